"""What a node is given and gives back: its spec and where it resumes, how it reports, the
result of its run, and the shard of the data it trains on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import torch
import xxhash

from engine.config import ModelConfig, Policy, Strategy, TrainConfig
from engine.data import Batches, Corpus
from engine.errors import DatasetUnavailable
from engine.faults import FAULTS
from engine.model import GPT
from engine.rounds import RoundOutcome
from engine.wire import Staging, pack, to_bytes


class Reporter(Protocol):
    """How a node tells the world how it is doing; the Django side plugs in DB/events/metrics."""

    def log(self, metrics: Mapping[str, float], step: int) -> None: ...

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        """After each round, at inner step ``step``; ``state()`` gives the swarm's global state
        (weights and outer momentum, on the CPU) if wanted: enough for a node to rejoin."""


class NullReporter:
    def log(self, metrics: Mapping[str, float], step: int) -> None:
        pass

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        pass


@dataclass(frozen=True)
class NodeSpec:
    """fault: test-only fault injection of this node (engine/faults.py): its updates scaled
    (x1000), sign-flipped or NaN, or slow (it proposes half a deadline after the round's
    deadline: a straggler)."""

    node_id: str
    members: tuple[str, ...]
    model: ModelConfig
    train: TrainConfig
    strategy: Strategy
    policy: Policy = field(default_factory=Policy)
    session: str = "session"
    fault: str | None = None
    wire_dtype: str = "float32"
    # With a lossy wire format, carry what it rounds away into the next round's proposal (off:
    # over int8 it changed the loss by 0.1%, within noise, in bench/communication.py).
    error_feedback: bool = False
    # How many members the session's steps are counted for (its first members; 0: all of
    # ``members``): an epoch stays the same number of steps for every node when others join.
    planned_members: int = 0

    def __post_init__(self) -> None:
        if self.node_id not in self.members:
            raise ValueError(f"{self.node_id} is not one of the members {self.members}")
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")


OUTER_MOMENTUM = "ncrsh.outer_momentum"  # the outer optimizer's buffer, saved beside the weights


@dataclass(frozen=True)
class Resume:
    """Where a node (re)joins a running session: after ``rounds`` committed rounds, at inner
    step ``step``, from the swarm's global state (weights, plus the outer momentum under
    OUTER_MOMENTUM). The inner optimizer starts afresh: it is local to the node."""

    rounds: int
    step: int
    state: Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class RoundRecord:
    index: int
    step: int
    committed: bool
    model_hash: str
    accepted: tuple[str, ...]
    rejected: tuple[str, ...]
    reason: str
    seconds: float
    partition: bool


@dataclass
class NodeResult:
    node_id: str
    steps: int
    rounds: list[RoundRecord]
    val_loss: float
    val_bits_per_byte: float
    val_accuracy: float
    state: dict[str, torch.Tensor]
    model_hash: str
    bytes_sent: int
    bytes_received: int
    compute_seconds: float
    exchange_seconds: float  # in rounds: see _NodeRun
    peer_wait_seconds: float  # of which waiting for peers (their proposals, votes, decisions)
    stopped: bool


def fingerprint(vector: torch.Tensor, staging: Staging | None = None) -> str:
    """The identity of a model's weights within a session: XXH3-128 of their float32 bytes,
    copied off the device through pinned memory (``staging``: the caller's, kept across calls;
    a sha256 of a 100M-parameter model costs a quarter of a second; files that are stored and
    audited keep their sha256, see checkpoint)."""
    return "xxh3:" + xxhash.xxh3_128_hexdigest(to_bytes(pack(vector, "float32"), staging)[0])


def cpu_state(model: GPT) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}


def node_total_steps(spec: NodeSpec, corpus: Corpus) -> int:
    """The run's inner steps: the same for every member, whenever it joined."""
    planned = spec.planned_members or len(spec.members)
    first = Batches(corpus.shard(0, planned), batch_size=spec.train.batch_size, seq_len=spec.model.seq_len, seed=0)
    return spec.train.total_steps(first.steps_per_epoch)


def node_batches(spec: NodeSpec, corpus: Corpus, start_step: int = 0) -> Batches:
    """The node's training batches from ``start_step`` on: its own shard of the train split
    among ``spec.members``, in an order fixed by the seed and its rank."""
    if corpus.tokenizer.vocab_size > spec.model.vocab_size:
        raise DatasetUnavailable(
            f"the dataset's tokenizer ({corpus.tokenizer.spec}) has {corpus.tokenizer.vocab_size} tokens;"
            f" the model's vocab_size is {spec.model.vocab_size}"
        )
    rank = spec.members.index(spec.node_id)
    return Batches(
        corpus.shard(rank, len(spec.members)),
        batch_size=spec.train.batch_size,
        seq_len=spec.model.seq_len,
        seed=spec.train.seed * 1009 + rank + 1,
        start_step=start_step,
    )
