"""Flat float32 vectors, the unit a round works in: the model's weights as one vector, and
elementwise passes over several vectors at once.

A round's arithmetic (pseudo-gradient, mean, outer step, loading the weights back) is a handful
of elementwise passes over vectors of the model's size: memory-bound work. Two habits make it
cheap: work in place in buffers allocated once (a fresh 77 MB tensor on the CPU costs more in
page faults than the pass that fills it), and on the CPU run a chain of passes chunk by chunk
(``chunks``), so the chain reads each vector from memory once, not once per pass.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.utils import parameters_to_vector

# 4 MiB of float32 per vector: a chain of passes over four vectors stays in a server CPU's L3
# cache, in few enough pieces that the Python loop costs nothing (bench/round_cost.py: the
# fused outer step of 19.2M parameters takes 25 ms in 256K pieces, 17 in 1M, 15 in 4M, 18 in 16M).
CPU_CHUNK = 1 << 20


def buffer_like(vector: torch.Tensor) -> torch.Tensor:
    """A zeroed buffer of ``vector``'s shape, its memory touched now: a fresh tensor's pages
    are faulted in on first write, which would bill a round for the allocation."""
    return torch.empty_like(vector, dtype=torch.float32).zero_()


def chunks(*vectors: torch.Tensor) -> Iterator[tuple[torch.Tensor, ...]]:
    """The vectors (flat, of one length) side by side in pieces: cache-sized on the CPU, whole
    on a GPU (one kernel per pass is what a GPU wants)."""
    numel = vectors[0].numel()
    step = CPU_CHUNK if vectors[0].device.type == "cpu" else max(1, numel)
    for start in range(0, numel, step):
        yield tuple(v[start : start + step] for v in vectors)


def flatten_parameters(model: nn.Module) -> torch.Tensor:
    """Re-home the model's parameters as views of one contiguous float32 vector, and return it:
    the weights are then read and written as one vector with no gather or scatter. Do it once
    the model is on its device (moving the model later would give it separate tensors again)."""
    params = list(model.parameters())
    if any(p.dtype != torch.float32 for p in params):
        raise ValueError("flatten_parameters expects float32 parameters")
    device = params[0].device
    flat = torch.empty(sum(p.numel() for p in params), dtype=torch.float32, device=device)
    offset = 0
    with torch.no_grad():
        for param in params:
            view = flat[offset : offset + param.numel()].view_as(param)
            view.copy_(param)
            param.data = view
            offset += param.numel()
    return flat


def params_vector(model: nn.Module) -> torch.Tensor:
    """A float32 copy of the model's parameters as one vector."""
    return parameters_to_vector(model.parameters()).detach().float()


def copy_into(tensors: list[torch.Tensor], vector: torch.Tensor) -> None:
    """Copy a flat vector into tensors (torch's vector_to_parameters would alias them to it)."""
    offset = 0
    with torch.no_grad():
        for tensor in tensors:
            tensor.copy_(vector[offset : offset + tensor.numel()].view_as(tensor))
            offset += tensor.numel()
