"""Where Django meets the engine: one node's run of one session, in a task body (what it
reports on the way is ``training.reporting``'s).

Imported by ``training.tasks.run_node`` when it runs, never by the web process (torch).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import torch
from django.conf import settings
from django.db import close_old_connections, transaction

from engine.checkpoint import save_checkpoint
from engine.data import Corpus
from engine.exchange import Exchange, InMemoryExchange, MemoryStore, RedisExchange
from engine.files import read_metadata
from engine.memory import training_memory
from engine.node import NodeResult, NodeSpec, node_total_steps, train_node
from engine.ranks import Ranks
from engine.sharding import check_shardable
from engine.tokenizer import Tokenizer
from models_store.dataset_services import dataset_local
from models_store.selectors import checkpoint_path
from models_store.services import checkpoint_register, snapshot_latest
from ncrsh_site.api import finite
from ncrsh_site.errors import ConsensusFailed, DomainError
from nodes.identity import node_identity
from nodes.models import Node
from training.membership import session_members_fix
from training.models import NodeRun, RunStatus, SessionStatus, TrainingSession
from training.ranks import RankRun, RunStart, launch_ranks
from training.reporting import DatabaseLedger, DatabaseReporter, run_pulse, run_reporter
from training.services import ADMIT_FRACTION, StaleRun, run_finish, run_lost, stop_requested
from training.worker import worker_devices, worker_exit, worker_fsdp

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


def node_spec(session: TrainingSession, node_id: str, first_round: int) -> NodeSpec:
    """The node's part in the session from round ``first_round`` on (whose members are fixed
    by asking for them)."""
    plan = session.plan
    return NodeSpec(
        node_id=node_id,
        members=tuple(session_members_fix(session_id=session.id, index=first_round)),
        planned_members=len(plan.members),
        model=plan.model,
        train=plan.train,
        strategy=plan.strategy,
        policy=plan.policy,
        session=session.id,
        fault=settings.FAULT_INJECTION.get(node_id),
        wire_dtype=plan.wire_dtype,
    )


def run_start(session: TrainingSession, node_id: str) -> RunStart:
    """Where a run starts: a node claiming its run after rounds were committed (a late start, a
    restart after a crash, a node admitted while the session runs) joins where the swarm is, at
    the freshest snapshot any node wrote, pinned (hard-linked) for this run as it was: its
    writer replaces it at the next round, and every rank must load the same one."""
    plan = session.plan
    latest = snapshot_latest(session.id)
    resume = None
    if latest is not None:
        pinned = _pinned_snapshot(session.id, node_id)
        pinned.unlink(missing_ok=True)
        os.link(latest[0], pinned)
        metadata = read_metadata(pinned)
        resume = (pinned, int(metadata["round"]), int(metadata["step"]))
    checkpoint = session.initial_checkpoint
    return RunStart(
        dataset=dataset_local(dataset=plan.dataset, tokenizer=plan.tokenizer, vocab_size=plan.vocab_size),
        resume=resume,
        initial=(checkpoint_path(checkpoint), checkpoint.sha256) if checkpoint else None,
    )


def _pinned_snapshot(session_id: str, node_id: str) -> Path:
    return settings.CHECKPOINT_DIR / "sessions" / f"{session_id}.{node_id}.resume.safetensors"


def _await_first_round(session: TrainingSession, node_id: str, every_s: float = 1.0) -> bool:
    """A node admitted while the session runs starts at its first round, from the swarm's state
    after the round before: wait for that state's snapshot. False if the session ends first,
    or every other node's run has (no such round is coming)."""
    first_round = session.first_round_of(node_id)
    while first_round > 0:
        latest = snapshot_latest(session.id)
        if latest is not None and int(latest[1].get("round", 0)) >= first_round:
            break
        others = session.runs.exclude(node_id=node_id).filter(status__in=(RunStatus.QUEUED, RunStatus.TRAINING))
        if (
            not others.exists()
            or not TrainingSession.objects.filter(id=session.id, status=SessionStatus.RUNNING).exists()
        ):
            return False
        time.sleep(every_s)
    return True


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
    """Fix where the run starts, then train it here, or in the node's ranks (training.ranks)."""
    with _failure_recorded(run, token), _unpinned(session.id, run.node_id):
        if not _await_first_round(session, run.node_id):
            run_finish(run_id=run.id, status=RunStatus.STOPPED, metrics={}, error="the session ended before its round")
            return
        start = run_start(session, run.node_id)
        spec = node_spec(session, run.node_id, start.first_round)
        NodeRun.objects.filter(id=run.id, claimed_by=token).update(
            total_steps=node_total_steps(spec, Corpus.open(start.dataset))
        )
        devices = [torch.device(name) for name in worker_devices()] or [
            torch.device("cuda" if torch.cuda.is_available() else "cpu")
        ]
        if len(devices) == 1:
            lead_run(session, run, token, start, devices[0], Ranks())
            return
        sharded = _sharded(session, spec, devices)
        ended = launch_ranks(RankRun(session.id, run.node_id, token, start, tuple(map(str, devices)), sharded))
        if ended is None:
            return
        if not ended.lost:
            run_failed(run, token, ended.reason)
        elif run_lost(run_id=run.id, claim=token, error=ended.reason):
            logger.error("run of %s in %s: %s; the worker leaves the swarm", run.node_id, session.id, ended.reason)
            worker_exit(f"node {run.node_id}: {ended.reason} in {session.id}")


def _sharded(session: TrainingSession, spec: NodeSpec, devices: list[torch.device]) -> bool:
    """Whether the node's ranks shard the model (FSDP) rather than each hold it (DDP): when its
    worker asks for it (--fsdp), or when training it needs more than ADMIT_FRACTION of the
    node's smallest GPU (engine.memory, the admission's estimate, at a rank's share of the
    batch). What the ranks would refuse is refused here, before they start."""
    Ranks(0, len(devices)).check(spec.train.batch_size)
    plan = session.plan
    sharded = worker_fsdp()
    if not sharded and devices[0].type == "cuda":
        need = training_memory(
            plan.model,
            batch_size=-(-plan.train.batch_size // len(devices)),
            members=len(spec.members),
            wire_dtype=plan.wire_dtype,
        )
        gpus = Node.objects.get(id=spec.node_id).gpus
        smallest = min((int(gpu["memory_total"]) for gpu in gpus), default=None)
        sharded = smallest is not None and need.total_bytes > ADMIT_FRACTION * smallest
    if sharded:
        check_shardable(plan.strategy)
    return sharded


def follow_run(session: TrainingSession, run: NodeRun, start: RunStart, device: torch.device, ranks: Ranks) -> None:
    """A rank other than the lead: the same steps on its rows of each batch, the rounds' outcomes
    from the lead; nothing reported."""
    train_node(
        node_spec(session, run.node_id, start.first_round),
        corpus=Corpus.open(start.dataset),
        device=device,
        initial_state=start.loaded_initial(),
        resume=start.loaded_resume(),
        ranks=ranks,
    )


def lead_run(
    session: TrainingSession, run: NodeRun, token: str, start: RunStart, device: torch.device, ranks: Ranks
) -> None:
    """The node's run as its only process or its lead rank: train with the swarm, report, and
    record how the run ended (its failure is the caller's to record)."""
    session_id, node_id = session.id, run.node_id
    corpus = Corpus.open(start.dataset)
    with _exchange(session_id) as exchange, run_reporter(run, session, corpus.tokenizer) as reporter:
        result = train_node(
            node_spec(session, node_id, start.first_round),
            corpus=corpus,
            exchange=exchange,
            reporter=reporter,
            should_stop=lambda: stop_requested(session_id),
            device=device,
            initial_state=start.loaded_initial(),
            resume=start.loaded_resume(),
            ledger=DatabaseLedger(session),
            identity=node_identity(node_id),
            peak_flops=settings.PEAK_FLOPS,
            ranks=ranks,
            membership=lambda index: tuple(session_members_fix(session_id=session_id, index=index)),
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
    }
    status = RunStatus.STOPPED if result.stopped else RunStatus.COMPLETED
    try:
        run_finish(run_id=run.id, status=status, metrics=metrics, claim=token)
    except StaleRun:
        logger.warning(
            "run of %s in %s was taken over by a rejoined incarnation; its result is dropped", node_id, session_id
        )


def failure_reason(exc: Exception) -> str:
    """How a run's failure reads in its session's status and training_stopped event."""
    if isinstance(exc, DomainError):
        return f"{exc.message} ({exc.error_code}): {exc}"
    return f"{type(exc).__name__}: {exc}"


def run_failed(run: NodeRun, token: str, reason: str) -> None:
    try:
        run_finish(run_id=run.id, status=RunStatus.FAILED, metrics={}, error=reason, claim=token)
    except StaleRun:
        logger.warning("run of %s in %s was taken over; its failure is not recorded", run.node_id, run.session_id)


@contextlib.contextmanager
def _unpinned(session_id: str, node_id: str) -> Iterator[None]:
    """The run's pinned snapshot lives as long as the run."""
    try:
        yield
    finally:
        _pinned_snapshot(session_id, node_id).unlink(missing_ok=True)


@contextlib.contextmanager
def _failure_recorded(run: NodeRun, token: str) -> Iterator[None]:
    """A run that fails (a dataset that cannot be read, a session in which no round could
    commit...) ends failed with the reason, in the session's status and training_stopped."""
    try:
        yield
    except Exception as exc:
        logger.exception("run of %s in %s failed", run.node_id, run.session_id)
        run_failed(run, token, failure_reason(exc))
    finally:
        close_old_connections()
