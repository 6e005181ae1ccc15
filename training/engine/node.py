"""A node's whole run: inner steps, rounds with its peers, progress reports, stopping."""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch.nn.utils import parameters_to_vector

from training.engine.config import ModelConfig, Policy, Strategy, TrainConfig
from training.engine.data import Batches, Corpus, validation_batches
from training.engine.exchange import Exchange
from training.engine.model import GPT, build_model
from training.engine.rounds import Ledger, RoundContext, RoundOutcome, run_round
from training.engine.strategies import OuterOptimizer
from training.engine.trainer import Trainer, evaluate
from training.engine.voting import judge

FAULTS = ("scale", "sign_flip", "nan", "slow")


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
    """fault: test-only fault injection of this node: its updates scaled (x1000), sign-flipped or
    NaN, or slow (it proposes half a deadline after the round's deadline: a straggler)."""

    node_id: str
    members: tuple[str, ...]
    model: ModelConfig
    train: TrainConfig
    strategy: Strategy
    policy: Policy = field(default_factory=Policy)
    session: str = "session"
    fault: str | None = None
    wire_dtype: str = "float32"

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
    val_accuracy: float
    state: dict[str, torch.Tensor]
    model_hash: str
    bytes_sent: int
    bytes_received: int
    compute_seconds: float
    exchange_seconds: float
    stopped: bool


def params_vector(model: GPT) -> torch.Tensor:
    return parameters_to_vector(model.parameters()).detach().float()


def copy_into(tensors: list[torch.Tensor], vector: torch.Tensor) -> None:
    """Copy a flat vector into tensors (torch's vector_to_parameters would alias them to it)."""
    offset = 0
    with torch.no_grad():
        for tensor in tensors:
            tensor.copy_(vector[offset : offset + tensor.numel()].view_as(tensor))
            offset += tensor.numel()


def load_vector(model: GPT, vector: torch.Tensor) -> None:
    copy_into(list(model.parameters()), vector)


def weights_hash(vector: torch.Tensor) -> str:
    return "sha256:" + hashlib.sha256(vector.detach().to("cpu", torch.float32).numpy().tobytes()).hexdigest()


def cpu_state(model: GPT) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}


def _inject(update: torch.Tensor, fault: str | None) -> torch.Tensor:
    if fault == "scale":
        return update * 1e3
    if fault == "sign_flip":
        return -update
    if fault == "nan":
        return torch.full_like(update, float("nan"))
    return update


class _Probe:
    """Held-out loss of candidate weights on this node's own validation batch, in a scratch copy."""

    def __init__(self, model: GPT, batch: tuple[torch.Tensor, torch.Tensor], device: torch.device) -> None:
        self.model, self.batch, self.device = copy.deepcopy(model), [batch], device

    def loss(self, vector: torch.Tensor) -> float:
        load_vector(self.model, vector)
        return evaluate(self.model, self.batch, device=self.device)[0]


def node_batches(spec: NodeSpec, corpus: Corpus) -> Batches:
    """The node's training batches: its own shard, in an order fixed by the seed and its rank."""
    rank = spec.members.index(spec.node_id)
    return Batches(
        corpus.shard(rank, len(spec.members)),
        batch_size=spec.train.batch_size,
        seq_len=spec.model.seq_len,
        seed=spec.train.seed * 1009 + rank + 1,
    )


def train_node(
    spec: NodeSpec,
    *,
    corpus: Corpus,
    exchange: Exchange,
    reporter: Reporter | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    device: torch.device | None = None,
    initial_state: Mapping[str, torch.Tensor] | None = None,
    resume: Resume | None = None,
    ledger: Ledger | None = None,
) -> NodeResult:
    device = device or torch.device("cpu")
    reporter = reporter or NullReporter()
    rank = spec.members.index(spec.node_id)
    model = build_model(spec.model, seed=spec.train.seed)
    start = resume.state if resume is not None else initial_state
    if start is not None:
        model.load_state_dict({k: v for k, v in start.items() if k != OUTER_MOMENTUM})
    model.to(device)
    batches = node_batches(spec, corpus)
    val = validation_batches(
        corpus.val, batch_size=spec.train.batch_size, seq_len=spec.model.seq_len, max_batches=spec.train.eval_batches
    )
    total = spec.train.total_steps(batches.steps_per_epoch)
    first_step = resume.step if resume is not None else 0
    trainer = Trainer(model, spec.train, total_steps=total, device=device, start_step=first_step)
    probe = _Probe(model, val[rank % len(val)], device) if spec.policy.check_loss else None
    ctx = RoundContext(
        exchange, spec.session, spec.node_id, spec.members, spec.policy, spec.wire_dtype, should_stop, ledger
    )
    sync = spec.strategy.exchanges_gradients
    outer = None if sync else OuterOptimizer(params_vector(model), spec.strategy)
    if outer is not None and resume is not None and OUTER_MOMENTUM in resume.state:
        outer.momentum = resume.state[OUTER_MOMENTUM]
    batches.skip(first_step)
    base_hash = weights_hash(params_vector(model))

    def global_state() -> dict[str, torch.Tensor]:
        state = cpu_state(model)
        if outer is not None and outer.momentum is not None:
            state[OUTER_MOMENTUM] = outer.momentum.detach().cpu().clone()
        return state

    def round_now(
        step: int, index: int, update: torch.Tensor, base: torch.Tensor, scale: float, loss: float
    ) -> RoundOutcome:
        base_loss = probe.loss(base) if probe else None
        if spec.fault == "slow":
            time.sleep(spec.policy.deadline_s * 1.5)
        outcome = run_round(
            ctx,
            index,
            _inject(update, spec.fault),
            base_hash=base_hash,
            meta={"step": step, "samples": spec.train.batch_size * (step + 1), "loss": loss},
            judge=lambda updates: judge(
                updates,
                voter=spec.node_id,
                kappa=spec.policy.kappa,
                epsilon=spec.policy.epsilon,
                base_loss=base_loss,
                loss_after=(lambda u: probe.loss(base - scale * u)) if probe else None,
            ),
        )
        return outcome

    records: list[RoundRecord] = []
    compute_s = exchange_s = 0.0
    stopped, step, rounds = False, first_step, resume.rounds if resume is not None else 0
    window_start, window_tokens = time.perf_counter(), 0
    for step in range(first_step, total):
        if should_stop():
            stopped = True
            break
        t0 = time.perf_counter()
        report = (step + 1) % spec.train.log_every == 0 or step == total - 1
        loss, accuracy = trainer.forward_backward(*batches.next(), measure=report)
        window_tokens += spec.train.batch_size * spec.model.seq_len
        outcome: RoundOutcome | None = None
        if sync:
            grads = parameters_to_vector([p.grad for p in model.parameters()])  # type: ignore[misc]
            compute_s += time.perf_counter() - t0
            t1 = time.perf_counter()
            lr = trainer.optimizer.param_groups[0]["lr"]
            outcome = round_now(step, rounds, grads, params_vector(model), lr, float(loss))
            exchange_s += time.perf_counter() - t1
            t0 = time.perf_counter()
            if outcome.committed:
                assert outcome.aggregate is not None
                copy_into([p.grad for p in model.parameters()], outcome.aggregate.to(device))  # type: ignore[misc]
                trainer.step()
            else:
                trainer.optimizer.zero_grad(set_to_none=True)
            base_hash = weights_hash(params_vector(model))
            compute_s += time.perf_counter() - t0
        else:
            trainer.step()
            compute_s += time.perf_counter() - t0
            if (step + 1) % spec.strategy.local_steps == 0 or step == total - 1:
                assert outer is not None
                t1 = time.perf_counter()
                delta = outer.params - params_vector(model)
                outcome = round_now(step, rounds, delta, outer.params.clone(), 1.0, float(loss))
                if outcome.committed:
                    assert outcome.aggregate is not None
                    outer.step(outcome.aggregate)
                load_vector(model, outer.params)  # a failed round falls back to the kept global model
                base_hash = weights_hash(outer.params)
                exchange_s += time.perf_counter() - t1
        if outcome is not None:
            rounds += 1
            decision = outcome.decision
            records.append(
                RoundRecord(
                    outcome.index,
                    step,
                    outcome.committed,
                    base_hash,
                    decision.accepted,
                    decision.rejected,
                    decision.reason,
                    outcome.seconds,
                    outcome.partition,
                )
            )
            reporter.round(outcome, base_hash, global_state, step + 1)
        if report:
            assert accuracy is not None
            elapsed = max(1e-9, time.perf_counter() - window_start)
            reporter.log(
                {
                    "loss": float(loss),
                    "accuracy": float(accuracy),
                    "tokens_per_s": window_tokens / elapsed,
                    "epoch": batches.epoch,
                    "batch_progress": batches.batch_progress,
                    "lr": trainer.optimizer.param_groups[0]["lr"],
                    "round": rounds,
                },
                step + 1,
            )
            window_start, window_tokens = time.perf_counter(), 0

    if outer is not None:
        load_vector(model, outer.params)  # the node's result is the swarm's global model
    val_loss, val_accuracy = trainer.evaluate(val)
    return NodeResult(
        node_id=spec.node_id,
        steps=step + (0 if stopped else 1),
        rounds=records,
        val_loss=val_loss,
        val_accuracy=val_accuracy,
        state=cpu_state(model),
        model_hash=weights_hash(params_vector(model)),
        bytes_sent=exchange.bytes_sent,
        bytes_received=exchange.bytes_received,
        compute_seconds=compute_s,
        exchange_seconds=exchange_s,
        stopped=stopped,
    )
