"""FSDP nodes: a node of several ranks whose model is sharded over them (torch's FSDP2,
``fully_shard`` on each block and at the root), for a model too large for one device.

Each rank holds 1/N of the weights, gradients and optimizer state: every parameter's rows are
split over the ranks as ``torch.chunk`` splits them (the first ranks one more row where they do
not divide). The inner steps are FSDP's (all-gather before each block, reduce-scatter of the
gradients after, averaged as DDP averages them). The outer state (theta_global, momentum) is
sharded alike, and the outer step is elementwise, so each rank takes it on its own shard.

What meets the swarm is the node's whole update, on the lead's CPU: ``Layout.gather`` collects
the ranks' shards of a vector into the full flat vector (the parameters in order, each
flattened, as a one-process node proposes it), and ``Layout.scatter`` hands each rank its
shard of the merged one. The lead holds those full vectors in host memory, never on its GPU.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn

from engine.config import Strategy
from engine.errors import EngineError
from engine.model import GPT
from engine.ranks import Ranks
from engine.rounds import RoundOutcome


def check_shardable(strategy: Strategy, *, error_feedback: bool = False) -> None:
    """EngineError unless a node that shards its model can take part with ``strategy``."""
    if strategy.exchanges_gradients:
        raise EngineError(
            "sync_sgd exchanges every step's whole gradient: a node that shards its model (FSDP) takes part in"
            " diloco or cooperative_sgd sessions"
        )
    if error_feedback:
        raise EngineError("error feedback is not kept by a node that shards its model (FSDP)")


def shard_model(model: GPT, device: torch.device) -> Layout:
    """Shard ``model`` over the default process group in place (each rank's shards move to
    ``device``); returns where the shards lie in the full flat vector."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    layout = Layout(model, Ranks(dist.get_rank(), dist.get_world_size(), sharded=True))
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    for block in model.blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return layout


def full_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A sharded model's whole state dict on the lead's CPU (empty on the other ranks); every
    rank takes part."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return {name: value for name, value in state.items() if isinstance(value, torch.Tensor)}


def local_tensors(model: nn.Module) -> list[torch.Tensor]:
    """This rank's shards of the model's parameters, in order (views: writing them writes the model)."""
    return [p.to_local() if hasattr(p, "to_local") else p for p in model.parameters()]


class Layout:
    """Where each rank's shard of each parameter lies in the full flat vector."""

    def __init__(self, model: nn.Module, ranks: Ranks) -> None:
        self.ranks = ranks
        # Per parameter: its offset in the full vector, and per rank its (offset, length) there.
        self.pieces: list[list[tuple[int, int]]] = []
        offset = 0
        for param in model.parameters():
            shape = param.shape
            rows, inner = shape[0], math.prod(shape[1:])
            per = -(-rows // ranks.size)
            pieces = []
            for rank in range(ranks.size):
                first, last = min(rows, rank * per), min(rows, (rank + 1) * per)
                pieces.append((offset + first * inner, (last - first) * inner))
            self.pieces.append(pieces)
            offset += rows * inner
        self.numel = offset
        self.local_numel = [sum(p[rank][1] for p in self.pieces) for rank in range(ranks.size)]
        self.padded = max(self.local_numel)

    def _runs(self, rank: int) -> Iterator[tuple[int, int, int]]:
        """(offset in the rank's shard vector, offset in the full vector, length), in order."""
        local = 0
        for pieces in self.pieces:
            full, length = pieces[rank]
            yield local, full, length
            local += length

    def local_of(self, full: torch.Tensor, rank: int | None = None) -> torch.Tensor:
        """A rank's shard of a full vector (this rank's by default), as a new vector."""
        rank = self.ranks.rank if rank is None else rank
        out = torch.empty(self.local_numel[rank], dtype=full.dtype, device=full.device)
        for local, start, length in self._runs(rank):
            out[local : local + length] = full[start : start + length]
        return out

    def gather(self, local: torch.Tensor) -> torch.Tensor | None:
        """The full vector on the lead's CPU (None on the other ranks), from every rank's shard,
        one rank's at a time (the lead's device holds a shard's worth, never the whole)."""
        if not self.ranks.lead:
            dist.send(self._padded(local), dst=0)
            return None
        full = torch.empty(self.numel, dtype=local.dtype)
        staging = torch.empty(self.padded, dtype=local.dtype, device=local.device)
        for rank in range(self.ranks.size):
            if rank == 0:
                part = local.cpu()
            else:
                dist.recv(staging, src=rank)
                part = staging.cpu()
            for offset, start, length in self._runs(rank):
                full[start : start + length] = part[offset : offset + length]
        return full

    def scatter(self, full: torch.Tensor | None, out: torch.Tensor) -> None:
        """Each rank's shard of the lead's full vector ``full`` (on its CPU) into its ``out``."""
        if not self.ranks.lead:
            staging = torch.empty(self.padded, dtype=out.dtype, device=out.device)
            dist.recv(staging, src=0)
            out.copy_(staging[: out.numel()])
            return
        assert full is not None
        for rank in range(1, self.ranks.size):
            dist.send(self._padded(self.local_of(full, rank).to(out.device)), dst=rank)
        out.copy_(self.local_of(full, 0))

    def _padded(self, local: torch.Tensor) -> torch.Tensor:
        """A shard at the length every rank's is sent at."""
        if local.numel() == self.padded:
            return local.contiguous()
        padded = torch.zeros(self.padded, dtype=local.dtype, device=local.device)
        padded[: local.numel()] = local
        return padded

    def share(self, outcome: RoundOutcome | None, into: torch.Tensor) -> RoundOutcome:
        """The lead's round ``outcome`` on every rank (the others pass None), with this rank's
        shard of the merged update ``into``."""
        shared = self.ranks.share_object(
            (dataclasses.replace(outcome, aggregate=None, merged_own=None), outcome.aggregate is not None)
            if outcome is not None
            else None
        )
        assert shared is not None
        header, merged = shared
        if merged:
            self.scatter(outcome.aggregate if outcome is not None else None, into)
            header.aggregate = into
        return header
