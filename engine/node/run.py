"""A node's whole run: inner steps, rounds with its peers, progress reports, stopping."""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import torch

from engine.data import Corpus, validation_batches
from engine.exchange import Exchange, InMemoryExchange, MemoryStore
from engine.faults import FaultyExchange
from engine.flops import flops_per_token
from engine.flops import peak_flops as engine_peak_flops
from engine.model import build_model
from engine.node.probe import Probe
from engine.node.spec import (
    OUTER_MOMENTUM,
    NodeResult,
    NodeSpec,
    NullReporter,
    Reporter,
    Resume,
    RoundRecord,
    cpu_state,
    fingerprint,
    node_batches,
    node_total_steps,
)
from engine.ranks import Ranks
from engine.rounds import Ledger, Round, RoundContext, RoundOutcome
from engine.sharding import full_state, shard_model
from engine.strategies import make_sync
from engine.trainer import Trainer
from engine.voting import judge
from engine.wire import Staging

if TYPE_CHECKING:  # cryptography is needed only by nodes that sign (engine.identity)
    from engine.identity import Identity


def train_node(
    spec: NodeSpec,
    *,
    corpus: Corpus,
    exchange: Exchange | None = None,
    reporter: Reporter | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    device: torch.device | None = None,
    initial_state: Mapping[str, torch.Tensor] | None = None,
    resume: Resume | None = None,
    ledger: Ledger | None = None,
    identity: Identity | None = None,
    peak_flops: float | None = None,
    ranks: Ranks | None = None,
    membership: Callable[[int], tuple[str, ...]] | None = None,
) -> NodeResult:
    """Train ``spec``'s node to its last step (or a stop request), in rounds with its peers
    (with an ``identity``, its votes signed and theirs counted only when signed). MFU is
    reported against ``peak_flops`` (FLOP/s per device), by default the device's from engine.flops.

    ``ranks``: this process's place in a node of several processes (engine.ranks). Only the
    lead (rank 0, or the only process) meets the swarm: it needs the ``exchange``, and the
    reporter, ledger, identity, stop check and membership are its alone (the others' are not
    used).

    ``membership(index)``: round ``index``'s members, fixed from the moment they are asked for
    (so that a node admitted while the session runs joins at a round no member has started);
    asked once per round, for the next one. Without it the members stay ``spec.members``. When
    they change, the node takes its shard of the train split among the new members from the
    next step on."""
    ranks = ranks or Ranks()
    if not ranks.lead:
        # Never read by a peer: the lead's round outcome comes to this rank by broadcast.
        exchange, reporter, ledger, identity, membership = InMemoryExchange(MemoryStore()), None, None, None, None
    if exchange is None:
        raise ValueError("the node's lead process needs an exchange")
    if spec.fault is not None:
        exchange = FaultyExchange(exchange, spec.fault, delay_s=spec.policy.deadline_s * 1.5)
    run = _NodeRun(
        spec,
        corpus=corpus,
        exchange=exchange,
        reporter=reporter or NullReporter(),
        should_stop=should_stop,
        device=device or torch.device("cpu"),
        start=resume.state if resume is not None else initial_state,
        resume=resume,
        ledger=ledger,
        identity=identity,
        peak_flops=peak_flops,
        ranks=ranks,
        membership=membership,
    )
    return run.train()


class _NodeRun:
    """One node's run: its model, data, trainer, strategy and round context (built here), and
    the loop over its steps (``train``).

    Time is split in two: ``round_s``, from the moment a round is due (the device's queue
    drained first, so no inner work is billed to it) through its outer step and the new base
    hash, less the inner optimizer step that falls inside; ``compute_s``, everything else."""

    def __init__(
        self,
        spec: NodeSpec,
        *,
        corpus: Corpus,
        exchange: Exchange,
        reporter: Reporter,
        should_stop: Callable[[], bool],
        device: torch.device,
        start: Mapping[str, torch.Tensor] | None,
        resume: Resume | None,
        ledger: Ledger | None,
        identity: Identity | None,
        peak_flops: float | None,
        ranks: Ranks,
        membership: Callable[[int], tuple[str, ...]] | None,
    ) -> None:
        self.spec, self.exchange, self.reporter, self.should_stop, self.device = (
            spec,
            exchange,
            reporter,
            should_stop,
            device,
        )
        ranks.check(spec.train.batch_size)
        self.ranks, self.rows, self.weight = (
            ranks,
            ranks.rows(spec.train.batch_size),
            ranks.weight(spec.train.batch_size),
        )
        rank = spec.members.index(spec.node_id)
        self.model = build_model(spec.model, seed=spec.train.seed)
        if start is not None:
            self.model.load_state_dict({k: v for k, v in start.items() if k != OUTER_MOMENTUM})
        # Sharded (FSDP): each rank keeps its shards of the weights, on its device.
        self.layout = shard_model(self.model, device) if ranks.sharded else None
        if self.layout is None:
            self.model.to(device)
        self.first_step = resume.step if resume is not None else 0
        self.corpus, self.batches = corpus, node_batches(spec, corpus, self.first_step)
        self.val = validation_batches(
            corpus.val,
            batch_size=spec.train.batch_size,
            seq_len=spec.model.seq_len,
            max_batches=spec.train.eval_batches,
        )
        self.total = node_total_steps(spec, corpus)
        self.membership = membership
        self.trainer = Trainer(
            self.model, spec.train, total_steps=self.total, device=device, start_step=self.first_step
        )
        probe_batch = self.val[rank % len(self.val)]
        # The held-out probe needs the whole model on the lead: not on a sharded node.
        probing = spec.policy.check_loss and ranks.lead and not ranks.sharded
        self.probe = Probe(self.model, probe_batch, device, spec.train.bf16) if probing else None
        self.ctx = RoundContext(
            exchange,
            spec.session,
            spec.node_id,
            spec.members,
            spec.policy,
            spec.wire_dtype,
            should_stop,
            ledger,
            identity,
        )
        momentum = resume.state.get(OUTER_MOMENTUM) if resume is not None else None
        if momentum is not None and self.layout is not None:
            momentum = self.layout.local_of(momentum.float()).to(device)
        self.sync = make_sync(
            self.model,
            self.trainer,
            spec.strategy,
            momentum=momentum,
            lent=self.ctx.lent,
            error_feedback=spec.error_feedback and spec.wire_dtype != "float32",
            sharded=ranks.sharded,
        )
        if ranks.size > 1 and not ranks.sharded:
            self.trainer.data_parallel()
        self.staging = Staging()
        self.base_hash = self._fingerprint()
        if peak_flops is None and device.type == "cuda":
            peak_flops = engine_peak_flops(torch.cuda.get_device_name(device))
        # FLOPs of one token's training over the node's peak (its devices'): tokens/s times
        # this is the node's MFU.
        self.mfu_per_token = flops_per_token(spec.model) / (peak_flops * ranks.size) if peak_flops else None
        self.rounds = resume.rounds if resume is not None else 0
        self.records: list[RoundRecord] = []
        self.compute_s = self.round_s = 0.0

    def train(self) -> NodeResult:
        spec, trainer = self.spec, self.trainer
        stopped, step = False, self.first_step
        window_start, window_tokens = time.perf_counter(), 0
        for step in range(self.first_step, self.total):
            if self._stop(step):
                stopped = True
                break
            started = time.perf_counter()
            last = step == self.total - 1
            report = (step + 1) % spec.train.log_every == 0 or last
            inputs, targets = self.batches.next()  # replaced when the members change
            loss, accuracy = trainer.forward_backward(
                inputs[self.rows], targets[self.rows], measure=report, weight=self.weight
            )
            window_tokens += spec.train.batch_size * spec.model.seq_len
            due = self.sync.due(step, last)
            if self.ranks.size > 1 and (report or due):
                loss, accuracy = self.ranks.node_figures(loss, accuracy)
            if due:
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)  # the inner steps' queued work is compute
                round_started, inner = time.perf_counter(), trainer.step_seconds
                outcome = self.sync.after_backward(step, last, functools.partial(self._round, step, loss))
                assert outcome is not None
                self.base_hash = self._fingerprint()  # once per round
                self.round_s += time.perf_counter() - round_started - (trainer.step_seconds - inner)
                self.compute_s += round_started - started + (trainer.step_seconds - inner)
                self._record(outcome, step)
                self._next_members(step + 1)
            else:
                self.sync.after_backward(step, last, functools.partial(self._round, step, loss))
                self.compute_s += time.perf_counter() - started
            if report:
                assert accuracy is not None
                elapsed = max(1e-9, time.perf_counter() - window_start)
                metrics = {
                    "loss": float(loss),
                    "bits_per_byte": self.corpus.bits_per_byte(float(loss)),
                    "accuracy": float(accuracy),
                    "tokens_per_s": window_tokens / elapsed,
                    "epoch": self.batches.epoch,
                    "batch_progress": self.batches.batch_progress,
                    "lr": trainer.optimizer.param_groups[0]["lr"],
                    "round": self.rounds,
                    # Share of this node's time so far spent in rounds rather than computing.
                    "round_overhead": self.round_s / max(1e-9, self.round_s + self.compute_s),
                }
                if self.mfu_per_token is not None:
                    metrics["mfu"] = metrics["tokens_per_s"] * self.mfu_per_token
                self.reporter.log(metrics, step + 1)
                window_start, window_tokens = time.perf_counter(), 0

        # The model holds the swarm's global weights; the lead's figures are the node's (a
        # sharded model evaluates on all its ranks together).
        evaluating = self.ranks.lead or self.ranks.sharded
        val_loss, val_accuracy = trainer.evaluate(self.val) if evaluating else (math.nan, math.nan)
        state = self._weights()
        self.ranks.close()
        return NodeResult(
            node_id=spec.node_id,
            steps=step + (0 if stopped else 1),
            rounds=self.records,
            val_loss=val_loss,
            val_bits_per_byte=self.corpus.bits_per_byte(val_loss),
            val_accuracy=val_accuracy,
            state=state,
            model_hash=self.base_hash,
            bytes_sent=self.exchange.bytes_sent,
            bytes_received=self.exchange.bytes_received,
            compute_seconds=self.compute_s,
            exchange_seconds=self.round_s,
            peer_wait_seconds=self.exchange.waited_s,
            stopped=stopped,
        )

    def _next_members(self, next_step: int) -> None:
        """The next round's members (fixed now, by asking): from ``next_step`` on, this node
        trains on its shard among them."""
        if self.membership is None and self.ranks.size == 1:
            return
        asked = self.membership(self.rounds) if self.membership is not None else None
        members = self.ranks.share_object(asked)
        if members is None or members == self.ctx.members:
            return
        self.spec = dataclasses.replace(self.spec, members=members)
        self.ctx = dataclasses.replace(self.ctx, members=members)
        self.batches = node_batches(self.spec, self.corpus, next_step)

    def _stop(self, step: int) -> bool:
        """A stop request, checked every step; with several ranks, the lead's answer at its
        report steps (all ranks agree there, and none waits in a collective alone)."""
        if self.ranks.size == 1:
            return self.should_stop()
        if step % self.spec.train.log_every:
            return False
        return self.ranks.agree(self.ranks.lead and self.should_stop(), self.device)

    def _fingerprint(self) -> str:
        """The base hash, which only the lead (the one that proposes) needs."""
        if self.layout is not None:
            full = self.layout.gather(self.sync.global_params())
            return fingerprint(full, self.staging) if full is not None else ""
        return fingerprint(self.sync.global_params(), self.staging) if self.ranks.lead else ""

    def _weights(self) -> dict[str, torch.Tensor]:
        """The model's weights on the CPU: a sharded model's gathered on the lead (every rank
        takes part; the others get an empty dict)."""
        return full_state(self.model) if self.layout is not None else cpu_state(self.model)

    def _round(
        self,
        step: int,
        loss: torch.Tensor,
        update: torch.Tensor,
        base: torch.Tensor,
        scale: float,
        into: torch.Tensor | None,
    ) -> RoundOutcome:
        """A round with this node's ``update``, run by the lead; every rank gets its outcome
        (engine.ranks), and the merged update goes ``into`` if given."""
        if self.layout is not None:
            return self._sharded_round(step, loss, update, into)
        outcome = self._lead_round(step, loss, update, base, scale, into) if self.ranks.lead else None
        return self.ranks.share(outcome, update, into)

    def _lead_round(
        self,
        step: int,
        loss: torch.Tensor,
        update: torch.Tensor,
        base: torch.Tensor,
        scale: float,
        into: torch.Tensor | None,
    ) -> RoundOutcome:
        """The round with the swarm; the held-out probe (if on) judges each proposal by the loss
        of ``base - scale * proposal``."""
        spec, probe = self.spec, self.probe
        base_loss = probe.loss(base) if probe else None
        return Round(
            self.ctx,
            self.rounds,
            update,
            base_hash=self.base_hash,
            meta={"step": step, "samples": spec.train.batch_size * (step + 1), "loss": float(loss)},
            judge=lambda updates: judge(
                updates,
                voter=spec.node_id,
                kappa=spec.policy.kappa,
                epsilon=spec.policy.epsilon,
                base_loss=base_loss,
                loss_after=(lambda u: probe.loss(base - scale * u)) if probe else None,
            ),
            into=into,
        ).run()

    def _sharded_round(
        self, step: int, loss: torch.Tensor, update: torch.Tensor, into: torch.Tensor | None
    ) -> RoundOutcome:
        """A round of a sharded node: the lead proposes the whole update (gathered from the
        ranks' shards, on its CPU; no probe: it needs the whole model); each rank gets its shard
        of the merged one ``into``."""
        assert self.layout is not None
        assert into is not None
        whole = self.layout.gather(update)
        outcome = self._lead_round(step, loss, whole, whole, 1.0, None) if whole is not None else None
        return self.layout.share(outcome, into)

    def _record(self, outcome: RoundOutcome, step: int) -> None:
        """After a round (and its outer step): record it under the new base hash, report it."""
        self.rounds += 1
        decision = outcome.decision
        self.records.append(
            RoundRecord(
                outcome.index,
                step,
                outcome.committed,
                self.base_hash,
                decision.accepted,
                decision.rejected,
                decision.reason,
                outcome.seconds,
                outcome.partition,
            )
        )
        if self.layout is None:
            self.reporter.round(outcome, self.base_hash, self._global_state, step + 1)
            return
        # A sharded node gathers the state (all its ranks together) for the lead to keep.
        state = self._global_state() if outcome.committed else {}
        self.reporter.round(outcome, self.base_hash, lambda: state, step + 1)

    def _global_state(self) -> dict[str, torch.Tensor]:
        """The swarm's state as this node holds it: its weights and outer momentum (gathered to
        the lead where sharded)."""
        state = self._weights()
        momentum = self.sync.momentum
        if momentum is not None:
            whole = self.layout.gather(momentum) if self.layout is not None else momentum.detach().cpu().clone()
            if whole is not None:
                state[OUTER_MOMENTUM] = whole
        return state
