"""Sampling from a trained model: what it learned, in text."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from engine.model import GPT


@torch.no_grad()
def generate(
    model: GPT,
    ids: list[int],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
) -> list[int]:
    """``max_new_tokens`` ids after ``ids`` (the context cropped to the model's sequence
    length): sampled at ``temperature`` from the ``top_k`` likeliest (all when None), or the
    likeliest one each time at temperature 0. Reproducible with a ``seed``."""
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device)
    generator.manual_seed(seed if seed is not None else int(torch.randint(0, 2**62, ()).item()))
    window = model.config.seq_len
    tokens = torch.tensor([ids or [0]], dtype=torch.long, device=device)
    out: list[int] = []
    for _ in range(max_new_tokens):
        logits, _ = model(tokens[:, -window:])
        last = logits[0, -1].float()
        if temperature == 0:
            chosen = int(last.argmax())
        else:
            last = last / temperature
            if top_k is not None and top_k < last.numel():
                kth = torch.topk(last, top_k).values[-1]
                last = last.masked_fill(last < kth, float("-inf"))
            chosen = int(torch.multinomial(F.softmax(last, dim=-1), 1, generator=generator))
        out.append(chosen)
        tokens = torch.cat([tokens, torch.tensor([[chosen]], device=device)], dim=1)
    return out
