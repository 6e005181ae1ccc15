"""The engine's trainer vs a plain PyTorch loop: same model, same batch, interleaved.

Prints tokens/s of both and their ratio (target >= 0.95). On CUDA, bf16 autocast is used by
both and the model FLOPs utilisation (MFU) is printed against --peak-tflops.

    python -m bench.overhead [--preset tiny|default] [--device cpu|cuda] [--compile]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from bench._common import model_config, print_table, write_results
from engine.config import PRESETS, TrainConfig
from engine.flops import flops_per_token
from engine.model import GPT, build_model
from engine.trainer import Trainer


def plain_loop(model: GPT, config: TrainConfig, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """What one would write by hand: AdamW, autocast, backward, clip, step."""
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, betas=(0.9, 0.95), fused=device.type == "cuda"
    )

    def step(inputs: torch.Tensor, targets: torch.Tensor) -> None:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            _, loss = model(inputs, targets)
        assert loss is not None
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def engine_loop(trainer: Trainer) -> Callable[[torch.Tensor, torch.Tensor], None]:
    def step(inputs: torch.Tensor, targets: torch.Tensor) -> None:
        trainer.forward_backward(inputs, targets)
        trainer.step()

    return step


def timed(
    step: Callable[[torch.Tensor, torch.Tensor], None],
    batch: tuple[torch.Tensor, torch.Tensor],
    n: int,
    device: torch.device,
) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(n):
        step(*batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--shape", help="hidden,layers,heads,seq_len (overrides --preset), e.g. 768,12,12,1024")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=6, help="interleaved blocks per loop")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="device peak bf16 TFLOP/s (H100 SXM: 989)")
    args = parser.parse_args()

    device = torch.device(args.device)
    config = model_config(args.preset, args.shape)
    train = TrainConfig(batch_size=args.batch_size, learning_rate=1e-3, compile=args.compile, warmup_steps=1)
    engine_model, plain_model = build_model(config, seed=0).to(device), build_model(config, seed=0).to(device)
    plain = plain_loop(torch.compile(plain_model) if args.compile else plain_model, train, device)  # type: ignore[arg-type]
    engine = engine_loop(Trainer(engine_model, train, total_steps=10**9, device=device))
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, config.vocab_size, (args.batch_size, config.seq_len + 1), generator=generator)
    batch = (tokens[:, :-1].to(device), tokens[:, 1:].to(device))

    for loop in (engine, plain):  # warm-up (and compilation) outside the timed blocks
        timed(loop, batch, 3, device)
    engine_s = plain_s = 0.0
    for _ in range(args.blocks):
        engine_s += timed(engine, batch, args.steps, device)
        plain_s += timed(plain, batch, args.steps, device)
    per_loop_tokens = args.blocks * args.steps * args.batch_size * config.seq_len
    engine_tps, plain_tps = per_loop_tokens / engine_s, per_loop_tokens / plain_s
    ratio = engine_tps / plain_tps
    params = engine_model.num_parameters()
    rows = [["engine", engine_tps], ["plain PyTorch", plain_tps]]
    name = args.shape or args.preset
    print(f"model {name} ({params / 1e6:.1f}M parameters), device {device}, batch {args.batch_size}")
    print_table(["loop", "tokens/s"], rows)
    print(f"\nengine / plain tokens/s: {ratio:.3f} (target >= 0.95)")
    result: dict[str, object] = {
        "args": vars(args),
        "parameters": params,
        "engine_tokens_per_s": engine_tps,
        "plain_tokens_per_s": plain_tps,
        "ratio": ratio,
    }
    if device.type == "cuda":
        mfu = engine_tps * flops_per_token(config) / (args.peak_tflops * 1e12)
        print(f"engine MFU: {mfu:.1%} of {args.peak_tflops:.0f} TFLOP/s")
        result["mfu"] = mfu
    write_results(f"overhead-{name}-{device.type}{'-compiled' if args.compile else ''}", result)


if __name__ == "__main__":
    main()
