"""The only place Django meets the engine: one node's run of one session, in a task body.

Imported by ``training.tasks.run_node`` when it runs, never by the web process (torch).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import torch
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from consensus.services import ledger_record, round_decide, round_open, round_votes
from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.data import Corpus
from engine.exchange import Exchange, InMemoryExchange, MemoryStore, RedisExchange
from engine.files import file_sha256
from engine.node import NodeResult, NodeSpec, Reporter, Resume, node_batches, train_node
from engine.quorum import Decision, Vote
from engine.rounds import RoundOutcome
from engine.tokenizer import Tokenizer
from engine.tracking import Reporters, TensorBoardReporter, WandbReporter
from models_store.dataset_services import dataset_local
from models_store.selectors import checkpoint_path
from models_store.services import checkpoint_register, snapshot_latest, snapshot_path
from ncrsh_site.api import finite
from ncrsh_site.errors import ConsensusFailed, DomainError
from ncrsh_site.events import publish
from nodes.identity import node_identity
from nodes.models import Node
from nodes.services import network_record
from training.models import NodeRun, RunStatus, TrainingSession
from training.selectors import session_status
from training.services import StaleRun, run_finish, stop_requested

logger = logging.getLogger(__name__)


class _Stores:
    """Embedded mode: the nodes of a session are threads of this process and meet in the
    session's store, which lives while any of its runs does (the exchange itself forgets each
    round once every member has its decision)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stores: dict[str, tuple[MemoryStore, int]] = {}

    @contextlib.contextmanager
    def held(self, session_id: str) -> Iterator[MemoryStore]:
        with self.lock:
            store, users = self.stores.get(session_id, (MemoryStore(), 0))
            self.stores[session_id] = (store, users + 1)
        try:
            yield store
        finally:
            with self.lock:
                store, users = self.stores[session_id]
                if users > 1:
                    self.stores[session_id] = (store, users - 1)
                else:
                    del self.stores[session_id]


_stores = _Stores()


@contextlib.contextmanager
def _exchange(session_id: str) -> Iterator[Exchange]:
    if settings.EMBEDDED:
        with _stores.held(session_id) as store:
            yield InMemoryExchange(store)
        return
    exchange = RedisExchange(settings.REDIS_URL, prefix=f"{settings.CACHE_KEY_PREFIX}:exchange", ttl_s=24 * 3600)
    try:
        yield exchange
    finally:
        exchange.close()


def node_spec(session: TrainingSession, node_id: str) -> NodeSpec:
    plan = session.plan
    return NodeSpec(
        node_id=node_id,
        members=plan.members,
        model=plan.model,
        train=plan.train,
        strategy=plan.strategy,
        policy=plan.policy,
        session=session.id,
        fault=settings.FAULT_INJECTION.get(node_id),
        wire_dtype=plan.wire_dtype,
    )


class DatabaseReporter:
    """Progress to the NodeRun row and the node's training_speed; after each committed round the
    swarm's global state to this node's snapshot file, from which a (re)joining node resumes."""

    def __init__(self, run: NodeRun, session: TrainingSession, tokenizer: Tokenizer) -> None:
        self.run, self.session, self.plan, self.tokenizer = run, session, session.plan, tokenizer
        self.step = 0
        # Only the incarnation holding the run's claim writes to it.
        self.rows = NodeRun.objects.filter(id=run.id, claimed_by=run.claimed_by)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.step = step
        # The node's training_speed: its tokens/s relative to the session's fastest node, 0-1.
        others = NodeRun.objects.filter(session_id=self.session.id, tokens_per_s__isnull=False).exclude(id=self.run.id)
        fastest = max([metrics["tokens_per_s"], *(t for t in others.values_list("tokens_per_s", flat=True) if t)])
        Node.objects.filter(id=self.run.node_id).update(training_speed=metrics["tokens_per_s"] / max(fastest, 1e-9))
        self.rows.update(
            step=step,
            epoch=int(metrics["epoch"]),
            batch_progress=metrics["batch_progress"],
            loss=finite(metrics["loss"]),
            bits_per_byte=finite(metrics["bits_per_byte"]),
            accuracy=finite(metrics["accuracy"]),
            tokens_per_s=metrics["tokens_per_s"],
            mfu=metrics.get("mfu"),
            round=int(metrics["round"]),
        )
        self.session.refresh_from_db(fields=["status"])
        publish("training_progress", {**session_status(self.session), "node_id": self.run.node_id})

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        self.rows.update(round=outcome.index + 1, model_hash=model_hash)
        Node.objects.filter(id=self.run.node_id).update(model_hash=model_hash)
        network_record(
            node_id=self.run.node_id,
            session_id=self.session.id,
            sent=outcome.sent,
            received=outcome.received,
            fetched=outcome.fetched,
            round_seconds=outcome.seconds,
            partition=outcome.partition,
        )
        ledger_record(
            session_id=self.session.id,
            index=outcome.index,
            members=list(self.plan.members),
            base_hash=outcome.decision.base_hash,
            proposers=list(outcome.proposers),
            votes=[dataclasses.asdict(v) for v in outcome.votes],
            decision={
                **dataclasses.asdict(outcome.decision),
                "aggregator": dataclasses.asdict(self.plan.policy.aggregator),
            },
            model_hash=model_hash,
        )
        if outcome.committed:
            self.step = step
            path = snapshot_path(self.session.id, self.run.node_id)
            save_checkpoint(path, state(), self.metadata(outcome.index + 1, model_hash))

    def metadata(self, round_index: int, model_hash: str) -> dict[str, Any]:
        return {
            "session": self.session.id,
            "round": round_index,
            "model_hash": model_hash,
            "step": self.step,
            "model_config": self.plan.model.to_dict(),
            "strategy": dataclasses.asdict(self.plan.strategy),
            "aggregator": dataclasses.asdict(self.plan.policy.aggregator),
            "members": list(self.plan.members),
            # The tokenizer itself travels with the weights: a checkpoint is usable on its own.
            "dataset": self.plan.dataset,
            "tokenizer": {
                "spec": self.tokenizer.spec,
                "vocab_size": self.tokenizer.vocab_size,
                "sha256": self.tokenizer.sha256,
                "json": self.tokenizer.json,
            },
        }


class DatabaseLedger:
    """The engine's Ledger on the consensus app: rounds open in the database, operators vote
    there, and the database records each round's one decision."""

    def __init__(self, session: TrainingSession) -> None:
        self.session = session
        self.members = list(session.plan.members)
        self.aggregator = dataclasses.asdict(session.plan.policy.aggregator)

    def opened(
        self, index: int, proposals: Mapping[str, Mapping[str, Any]], *, base_hash: str, deadline: float
    ) -> None:
        round_open(
            session_id=self.session.id,
            index=index,
            members=self.members,
            base_hash=base_hash,
            deadline=datetime.fromtimestamp(deadline, UTC),
            proposals={node: dict(meta) for node, meta in proposals.items()},
        )

    def outside_votes(self, index: int) -> list[Vote]:
        return [Vote(**vote) for vote in round_votes(session_id=self.session.id, index=index)]

    def decide(
        self, index: int, votes: list[Vote], decide: Callable[[list[Vote]], Decision], *, base_hash: str
    ) -> Decision:
        def engine_decide(counted: list[dict[str, Any]]) -> dict[str, Any]:
            return dataclasses.asdict(decide([Vote(**vote) for vote in counted]))

        decided = round_decide(
            session_id=self.session.id,
            index=index,
            members=self.members,
            base_hash=base_hash,
            aggregator=self.aggregator,
            votes=[dataclasses.asdict(vote) for vote in votes],
            decide=engine_decide,
        )
        return Decision.from_dict(decided)


def _resume(session: TrainingSession) -> Resume | None:
    """A node claiming its run after rounds were committed (a late start, or a restart after a
    crash) joins where the swarm is: the freshest snapshot any node wrote."""
    latest = snapshot_latest(session.id)
    if latest is None:
        return None
    path, metadata = latest
    loaded = load_checkpoint(path, sha256=file_sha256(path))
    return Resume(rounds=int(metadata["round"]), step=int(metadata["step"]), state=loaded.tensors)


def _initial_state(session: TrainingSession) -> dict[str, torch.Tensor] | None:
    checkpoint = session.initial_checkpoint
    if checkpoint is None:
        return None
    loaded = load_checkpoint(checkpoint_path(checkpoint), sha256=checkpoint.sha256)
    return loaded.tensors


def _final_checkpoint(session: TrainingSession, run: NodeRun, result: NodeResult, tokenizer: Tokenizer) -> None:
    """The first node to finish registers the session's final model (all hold the same one)."""
    with transaction.atomic():
        locked = TrainingSession.objects.select_for_update().filter(id=session.id, final_model=None).first()
        if locked is None:
            return
        path = settings.CHECKPOINT_DIR / "sessions" / f"{session.id}.{run.node_id}.final.safetensors"
        last_round = result.rounds[-1].index + 1 if result.rounds else 0
        reporter = DatabaseReporter(run, session, tokenizer)
        reporter.step = result.steps
        save_checkpoint(path, result.state, reporter.metadata(last_round, result.model_hash))
        checkpoint = checkpoint_register(
            source=path,
            session_id=session.id,
            round_index=last_round,
            step=result.steps,
            model_hash=result.model_hash,
            metrics={
                "val_loss": finite(result.val_loss),
                "val_bits_per_byte": finite(result.val_bits_per_byte),
                "val_accuracy": finite(result.val_accuracy),
            },
            model_config=session.plan.model.to_dict(),
        )
        path.unlink(missing_ok=True)
        locked.final_model = checkpoint
        locked.save(update_fields=["final_model"])


@contextlib.contextmanager
def _reporter(run: NodeRun, session: TrainingSession, tokenizer: Tokenizer) -> Iterator[Reporter]:
    """The control plane's reporter, and beside it TensorBoard's (NCRSH_TENSORBOARD) and a
    Weights & Biases run (NCRSH_WANDB_PROJECT) when asked for."""
    folder = settings.RUNS_DIR / session.id / run.node_id
    trackers: list[TensorBoardReporter | WandbReporter] = []
    try:
        if settings.TENSORBOARD:
            trackers.append(TensorBoardReporter(folder))
        if settings.WANDB_PROJECT:
            trackers.append(
                WandbReporter(
                    project=settings.WANDB_PROJECT,
                    session=session.id,
                    node=run.node_id,
                    directory=folder,
                    config=session.plan.to_json(),
                )
            )
        yield Reporters(DatabaseReporter(run, session, tokenizer), *trackers)
    finally:
        for tracker in trackers:
            tracker.close()


@contextlib.contextmanager
def run_pulse(run_id: int, claim: str) -> Iterator[None]:
    """The run's own liveness, beside its node's: while its process trains it, the run's row is
    touched every heartbeat. A run silent for NCRSH_OFFLINE_AFTER_S while its node still beats
    has lost its process (a killed child, a wedged thread) and the sweep retires it."""
    stopped = threading.Event()

    def beat() -> None:
        while not stopped.wait(settings.HEARTBEAT_S):
            try:
                NodeRun.objects.filter(id=run_id, claimed_by=claim, status=RunStatus.TRAINING).update(
                    updated_at=timezone.now()
                )
            except Exception:  # a missed beat is retried at the next one
                logger.warning("run pulse failed", exc_info=True)
            finally:
                close_old_connections()

    thread = threading.Thread(target=beat, name=f"run-pulse-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()


def execute_run(session_id: str, node_id: str) -> None:
    """Claim this node's run (compare-and-set: a redelivered task returns quietly), train, report.
    A dataset that cannot be read, or a session in which no round could commit, fails the run
    with the reason (in the session's status and the training_stopped event)."""
    token = uuid.uuid4().hex
    claimed = NodeRun.objects.filter(session_id=session_id, node_id=node_id, status=RunStatus.QUEUED).update(
        status=RunStatus.TRAINING, claimed_by=token
    )
    if not claimed:
        logger.info("run of %s in %s is already claimed or finished", node_id, session_id)
        return
    session = TrainingSession.objects.select_related("initial_checkpoint").get(id=session_id)
    run = NodeRun.objects.get(session_id=session_id, node_id=node_id)
    with run_pulse(run.id, token):
        _train_run(session, run, token)


def _train_run(session: TrainingSession, run: NodeRun, token: str) -> None:
    session_id, node_id = session.id, run.node_id
    try:
        spec = node_spec(session, node_id)
        plan = session.plan
        corpus = Corpus.open(dataset_local(dataset=plan.dataset, tokenizer=plan.tokenizer, vocab_size=plan.vocab_size))
        NodeRun.objects.filter(id=run.id, claimed_by=token).update(
            total_steps=spec.train.total_steps(node_batches(spec, corpus).steps_per_epoch)
        )
        with _exchange(session_id) as exchange, _reporter(run, session, corpus.tokenizer) as reporter:
            result = train_node(
                spec,
                corpus=corpus,
                exchange=exchange,
                reporter=reporter,
                should_stop=lambda: stop_requested(session_id),
                device=torch.device("cuda" if torch.cuda.is_available() else "cpu"),
                initial_state=_initial_state(session),
                resume=_resume(session),
                ledger=DatabaseLedger(session),
                identity=node_identity(node_id),
                peak_flops=settings.PEAK_FLOPS,
            )
        if result.rounds and not result.stopped and not any(r.committed for r in result.rounds):
            reasons = sorted({r.reason for r in result.rounds})
            raise ConsensusFailed(f"none of {len(result.rounds)} rounds committed: {'; '.join(reasons)}")
        _final_checkpoint(session, run, result, corpus.tokenizer)
        metrics = {
            "val_loss": finite(result.val_loss),
            "val_bits_per_byte": finite(result.val_bits_per_byte),
            "val_accuracy": finite(result.val_accuracy),
            "model_hash": result.model_hash,
            "steps": result.steps,
            "rounds": len(result.rounds),
            "bytes_sent": result.bytes_sent,
            "bytes_received": result.bytes_received,
            "compute_seconds": result.compute_seconds,
            "exchange_seconds": result.exchange_seconds,
            "round_hashes": [r.model_hash for r in result.rounds],
        }
        status = RunStatus.STOPPED if result.stopped else RunStatus.COMPLETED
        run_finish(run_id=run.id, status=status, metrics=metrics, claim=token)
    except StaleRun:
        logger.warning(
            "run of %s in %s was taken over by a rejoined incarnation; its result is dropped", node_id, session_id
        )
    except Exception as exc:
        logger.exception("run of %s in %s failed", node_id, session_id)
        reason = (
            f"{exc.message} ({exc.error_code}): {exc}"
            if isinstance(exc, DomainError)
            else f"{type(exc).__name__}: {exc}"
        )
        try:
            run_finish(run_id=run.id, status=RunStatus.FAILED, metrics={}, error=reason, claim=token)
        except StaleRun:
            logger.warning("run of %s in %s was taken over; its failure is not recorded", node_id, session_id)
    finally:
        close_old_connections()
