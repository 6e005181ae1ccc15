"""The engine's configurations: plain dataclasses, no torch, so that the web process can
validate a session's settings without loading the engine."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

from engine.errors import AggregatorBoundError


@dataclass(frozen=True)
class ModelConfig:
    hidden_size: int = 512
    num_layers: int = 6
    num_heads: int = 8
    vocab_size: int = 256  # the byte tokenizer
    seq_len: int = 256
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads})")
        if min(self.hidden_size, self.num_layers, self.num_heads, self.vocab_size, self.seq_len) < 1:
            raise ValueError("hidden_size, num_layers, num_heads, vocab_size and seq_len must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


def tiny() -> ModelConfig:
    """For tests: trains on a CPU in seconds."""
    return ModelConfig(hidden_size=64, num_layers=2, num_heads=4, seq_len=64)


def default() -> ModelConfig:
    """The spec's model: 512 hidden, 6 layers, 8 heads (about 19M parameters)."""
    return ModelConfig()


PRESETS = {"tiny": tiny, "default": default}


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of the inner loop.

    batch_size       sequences per node per step
    learning_rate    peak inner learning rate
    epochs           passes over the node's shard (ignored when max_steps is set)
    max_steps        inner steps per node; overrides epochs
    warmup_steps     linear warm-up, then cosine decay to 10% of the peak
    weight_decay     AdamW's decoupled weight decay (SGD: L2)
    grad_clip        global gradient-norm clip; None turns it off
    inner_optimizer  adamw (the default) or sgd (linear in the gradient: what makes
                     cooperative_sgd with H=1 equal sync_sgd exactly)
    momentum         SGD momentum
    seed             model initialisation and data order (the same on every node for the model)
    compile          torch.compile the model
    bf16             bf16 autocast on CUDA (False: float32 throughout, e.g. to check an identity)
    log_every        report progress every this many steps
    eval_batches     validation batches for held-out loss
    """

    batch_size: int = 32
    learning_rate: float = 1e-3
    epochs: int = 1
    max_steps: int | None = None
    warmup_steps: int = 20
    weight_decay: float = 0.1
    grad_clip: float | None = 1.0
    inner_optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = 0.0
    seed: int = 0
    compile: bool = False
    bf16: bool = True
    log_every: int = 10
    eval_batches: int = 8

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.learning_rate <= 0 or self.epochs < 1:
            raise ValueError("batch_size and epochs must be at least 1, learning_rate positive")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if self.inner_optimizer not in ("adamw", "sgd"):
            raise ValueError(f"inner_optimizer must be adamw or sgd, got {self.inner_optimizer!r}")

    def total_steps(self, steps_per_epoch: int) -> int:
        return self.max_steps if self.max_steps is not None else self.epochs * steps_per_epoch


# How an update travels (engine/wire.py): a float dtype, or blockwise int8; decoded to float32.
WIRE_FORMATS = ("float32", "float16", "bfloat16", "int8")
BLOCK = 4096  # int8: values per block, each with one float32 scale
FLOAT_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def byte_length(wire: str, numel: int) -> int:
    """Bytes of ``numel`` values in the ``wire`` format (torch-free: the web process sizes sessions)."""
    if wire == "int8":
        blocks = -(-numel // BLOCK)
        return blocks * 4 + blocks * BLOCK
    return numel * FLOAT_BYTES[wire]


AGGREGATORS = ("mean", "trimmed_mean", "median", "krum")


@dataclass(frozen=True)
class AggregatorConfig:
    """name: mean | trimmed_mean | median | krum
    f: faulty updates to tolerate (mean: 0; trimmed_mean: trims max(f, floor(beta*n)) per side;
       median: needs n >= 2f+1; krum: needs n >= 2f+3)
    beta: trimmed_mean's fraction cut from each side."""

    name: str = "mean"
    f: int = 0
    beta: float = 0.25

    def __post_init__(self) -> None:
        if self.name not in AGGREGATORS:
            raise ValueError(f"aggregator must be one of {', '.join(AGGREGATORS)}, got {self.name!r}")
        if self.f < 0 or not 0.0 <= self.beta < 0.5:
            raise ValueError("f must be >= 0 and beta in [0, 0.5)")

    def check(self, n: int) -> None:
        """Raise AggregatorBoundError if ``n`` updates cannot tolerate ``f`` faulty ones."""
        if n < 1:
            raise AggregatorBoundError(f"{self.name}: nothing to aggregate")
        if self.name == "mean" and self.f > 0:
            raise AggregatorBoundError(f"mean tolerates no faulty update (f={self.f}); use a robust aggregator")
        if self.name == "trimmed_mean" and n - 2 * self._trim(n) < 1:
            raise AggregatorBoundError(
                f"trimmed_mean cuts {self._trim(n)} per side of {n} updates: nothing left (needs n >= 2k+1)"
            )
        if self.name == "median" and n < 2 * self.f + 1:
            raise AggregatorBoundError(f"median needs n >= 2f+1: n={n}, f={self.f}")
        if self.name == "krum" and n < 2 * self.f + 3:
            raise AggregatorBoundError(f"krum needs n >= 2f+3: n={n}, f={self.f}")

    def _trim(self, n: int) -> int:
        return max(self.f, math.floor(self.beta * n))


STRATEGIES = ("sync_sgd", "cooperative_sgd", "diloco")
_DEFAULTS = {
    "sync_sgd": {"local_steps": 1, "outer_lr": 1.0, "outer_momentum": 0.0},
    "cooperative_sgd": {"local_steps": 50, "outer_lr": 1.0, "outer_momentum": 0.0},
    "diloco": {"local_steps": 500, "outer_lr": 0.7, "outer_momentum": 0.9},
}


@dataclass(frozen=True)
class Strategy:
    """name            sync_sgd | cooperative_sgd | diloco
    local_steps        H, inner steps between rounds (sync_sgd: always 1)
    outer_lr           outer learning rate (cooperative_sgd: 1 = averaging; diloco: 0.7)
    outer_momentum     outer Nesterov momentum (diloco: 0.9; 0 turns Nesterov off)"""

    name: str
    local_steps: int
    outer_lr: float
    outer_momentum: float

    @property
    def exchanges_gradients(self) -> bool:
        return self.name == "sync_sgd"

    def rounds(self, total_steps: int) -> int:
        """How many rounds a run of ``total_steps`` inner steps has (the last step ends one)."""
        return -(-total_steps // self.local_steps)


def make_strategy(
    name: str, *, local_steps: int | None = None, outer_lr: float | None = None, outer_momentum: float | None = None
) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    knobs = dict(_DEFAULTS[name])
    if name == "sync_sgd":
        if local_steps not in (None, 1):
            raise ValueError("sync_sgd averages every step: local_steps must be 1")
    elif local_steps is not None:
        knobs["local_steps"] = local_steps
    if outer_lr is not None:
        knobs["outer_lr"] = outer_lr
    if outer_momentum is not None:
        knobs["outer_momentum"] = outer_momentum
    if knobs["local_steps"] < 1 or knobs["outer_lr"] <= 0 or not 0 <= knobs["outer_momentum"] < 1:
        raise ValueError("local_steps must be >= 1, outer_lr > 0 and outer_momentum in [0, 1)")
    return Strategy(name, int(knobs["local_steps"]), float(knobs["outer_lr"]), float(knobs["outer_momentum"]))


@dataclass(frozen=True)
class Policy:
    """quorum            fraction of cast votes that must approve a proposal (default 2/3)
    min_participants     accepted proposals for a commit, and voters per proposal; None = majority
    kappa                a proposal's norm may be at most kappa x the median norm
    epsilon              held-out loss after applying a proposal may exceed the current one by this fraction
    check_loss           run the held-out loss probe (costs one evaluation per proposal)
    voting               False: every proposal is accepted unvalidated (the control of the tests)
    deadline_s           seconds to wait for proposals, and again for votes; late ones are left out
    require_operator_approval  a proposal also needs an operator's approval (the round waits for
                         one, within the deadline, where the round has a ledger to vote in)
    aggregator           how accepted updates are combined (see aggregation.py)"""

    quorum: float = 2 / 3
    min_participants: int | None = None
    kappa: float = 3.0
    epsilon: float = 0.05
    check_loss: bool = True
    voting: bool = True
    deadline_s: float = 60.0
    require_operator_approval: bool = False
    aggregator: AggregatorConfig = field(default_factory=AggregatorConfig)

    def __post_init__(self) -> None:
        if not 0.5 <= self.quorum <= 1.0:
            raise ValueError(f"quorum must be in [0.5, 1], got {self.quorum}")
        if self.min_participants is not None and self.min_participants < 1:
            raise ValueError("min_participants must be at least 1")
        if self.kappa <= 1.0 or self.epsilon < 0 or self.deadline_s <= 0:
            raise ValueError("kappa must exceed 1, epsilon be >= 0 and deadline_s positive")

    @staticmethod
    def majority(members: int) -> int:
        """More than half of ``members``: the fewest nodes that may decide anything (a minority
        never forks the model)."""
        return members // 2 + 1

    def required(self, members: int) -> int:
        """Accepted proposals a round needs to commit: ``min_participants``, else a majority."""
        return self.min_participants if self.min_participants is not None else self.majority(members)
