"""A node of several processes: torch.distributed ranks that train as ONE swarm member.

The ranks of a node hold the same model and take the same steps. Each inner step, the node's
batch is split among them by rows (``rows``), each rank's loss is weighted by its share of the
rows (``weight``), and DDP averages the gradients during the backward pass: the step equals one
process's step on the whole batch, to float noise, whatever the number of ranks (an uneven
split included). At a round, rank 0 alone (the lead) proposes, votes and decides with the swarm;
its outcome, the merged update with it, is broadcast to the other ranks (``share``), and every
rank applies the same outer step. The ranks agree on stopping where rank 0 says so
(``agree``), at report steps: a stop never leaves a rank waiting in a collective alone.

NCCL on GPUs, gloo on CPUs; the process group is the default one, set up by whoever started
the ranks (torch's elastic launcher: ``training.ranks``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch.distributed.launcher.api import LaunchConfig

from engine.errors import EngineError
from engine.rounds import RoundOutcome

T = TypeVar("T")

# How often the launcher looks at a node's ranks: a rank that died is seen within this.
MONITOR_S = 0.2


def launch_config(nproc: int, run_id: str) -> LaunchConfig:
    """torch's elastic launcher for ``nproc`` ranks of a node on this host: a rendezvous on a
    free local port, and no restarts (a rank that dies ends the node's run)."""
    return LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",
        run_id=run_id,
        max_restarts=0,
        monitor_interval=MONITOR_S,
    )


@dataclass(frozen=True)
class Ranks:
    """This process's place in its node: rank ``rank`` of ``size`` (alone: rank 0 of 1).
    ``sharded``: the node's model is sharded over its ranks (FSDP: engine.sharding), else
    each rank holds all of it (DDP)."""

    rank: int = 0
    size: int = 1
    sharded: bool = False

    @property
    def lead(self) -> bool:
        """Rank 0: the one that meets the swarm (exchange, ledger, reports)."""
        return self.rank == 0

    @classmethod
    def joined(cls, device: torch.device, *, sharded: bool = False) -> Ranks:
        """This process's ranks in the default process group, starting it from the environment
        the launcher set (MASTER_ADDR, RANK, WORLD_SIZE...) if it is not yet started."""
        if not dist.is_initialized():
            if device.type == "cuda":
                torch.cuda.set_device(device)
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo", device_id=_device_id(device))
        size = dist.get_world_size()
        if device.type == "cpu":
            # The host's cores shared among its ranks (as torchrun's OMP_NUM_THREADS=1 default
            # intends), not each rank's intra-op threads on all of them.
            torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // size))
        return cls(dist.get_rank(), size, sharded and size > 1)

    def check(self, batch_size: int) -> None:
        if batch_size < self.size:
            raise EngineError(
                f"batch_size {batch_size} cannot be split over the node's {self.size} processes:"
                f" give it at least {self.size} sequences per step, or start the worker with fewer"
            )

    def rows(self, batch_size: int) -> slice:
        """This rank's rows of a node batch: as even a split as there is, the first ranks one more."""
        share, extra = divmod(batch_size, self.size)
        start = self.rank * share + min(self.rank, extra)
        return slice(start, start + share + (1 if self.rank < extra else 0))

    def weight(self, batch_size: int) -> float:
        """What this rank's mean loss is scaled by, so that DDP's mean over ranks of the scaled
        losses' gradients is the whole batch's mean loss gradient."""
        part = self.rows(batch_size)
        return (part.stop - part.start) * self.size / batch_size

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The node's figure from each rank's weighted one (the mean over ranks), in place."""
        if self.size > 1:
            dist.all_reduce(values)
            values /= self.size
        return values

    def node_figures(
        self, loss: torch.Tensor, accuracy: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The node's loss and accuracy (None: not measured) from each rank's weighted ones."""
        figures = torch.stack([loss.float(), accuracy.float() if accuracy is not None else torch.zeros_like(loss)])
        self.mean(figures)
        return figures[0], (figures[1] if accuracy is not None else None)

    def agree(self, flag: bool, device: torch.device) -> bool:
        """Rank 0's ``flag``, on every rank."""
        if self.size == 1:
            return flag
        shared = torch.tensor([1 if flag else 0], dtype=torch.uint8, device=device)
        dist.broadcast(shared, src=0)
        return bool(shared.item())

    def share_object(self, value: T) -> T:
        """Rank 0's ``value`` (anything picklable) on every rank."""
        if self.size == 1:
            return value
        box: list[object] = [value]
        dist.broadcast_object_list(box, src=0, device=self._object_device())
        return box[0]  # type: ignore[return-value]

    def share(self, outcome: RoundOutcome | None, like: torch.Tensor, into: torch.Tensor | None) -> RoundOutcome:
        """Rank 0's round ``outcome`` on every rank (the others pass None): its decision, votes
        and figures, and its merged update (into ``into`` if given, else a new vector like
        ``like``) and, when the round merged it, the lead's own update as the peers decoded it."""
        if self.size == 1:
            assert outcome is not None
            return outcome
        header: list[object] = [None, False, False]
        if self.lead:
            assert outcome is not None
            header = [
                dataclasses.replace(outcome, aggregate=None, merged_own=None),
                outcome.aggregate is not None,
                outcome.merged_own is not None,
            ]
        dist.broadcast_object_list(header, src=0, device=self._object_device())
        shared, has_aggregate, has_own = header
        assert isinstance(shared, RoundOutcome)
        if self.lead:
            assert outcome is not None
            for vector in (outcome.aggregate, outcome.merged_own):
                if vector is not None:
                    dist.broadcast(vector, src=0)
            return outcome
        if has_aggregate:
            shared.aggregate = into if into is not None else torch.empty_like(like)
            dist.broadcast(shared.aggregate, src=0)
        if has_own:
            shared.merged_own = torch.empty_like(like)
            dist.broadcast(shared.merged_own, src=0)
        return shared

    @staticmethod
    def _object_device() -> torch.device | None:
        """Where broadcast_object_list stages the pickles: the rank's GPU under NCCL."""
        return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None

    def close(self) -> None:
        if self.size > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _device_id(device: torch.device) -> torch.device | None:
    """NCCL binds the group to the rank's GPU up front (eager init); gloo takes none."""
    return device if device.type == "cuda" else None
