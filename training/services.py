"""Training sessions: start, stop, and the bookkeeping of their node runs. No torch here."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from engine.datasets import locate
from engine.errors import DatasetUnavailable
from engine.files import read_metadata
from engine.memory import GIB, training_memory
from models_store.dataset_services import session_vocab
from models_store.models import Checkpoint
from models_store.selectors import checkpoint_path, checkpoint_to_load, dataset_list
from models_store.services import checkpoint_register, checkpoint_verify, snapshot_latest, snapshots_prune
from ncrsh_site.errors import Conflict, Invalid, NetworkPartition, NodeNotFound, NotFound, TrainingInProgress
from ncrsh_site.events import publish_on_commit
from nodes.models import ALIVE_STATUSES, Node, NodeStatus
from nodes.services import node_sweep_offline
from training.models import (
    ACTIVE_SESSION_STATUSES,
    FINISHED_RUN_STATUSES,
    NodeRun,
    RunStatus,
    SessionStatus,
    TrainingSession,
)
from training.plan import SessionPlan

logger = logging.getLogger(__name__)


def stop_key(session_id: str) -> str:
    return f"ncrsh:stop:{session_id}"


class StaleRun(Conflict):
    message = "STALE_RUN"
    default_detail = "This incarnation of the run no longer holds its claim."


def _members(requested: list[str] | None) -> list[str]:
    if not requested:
        alive = list(Node.objects.filter(status__in=ALIVE_STATUSES).order_by("id").values_list("id", flat=True))
        if not alive:
            raise NodeNotFound("No active node to train on: start `ncrsh worker`s or set NCRSH_LOCAL_NODES.")
        return alive
    known = {n.id: n for n in Node.objects.filter(id__in=requested)}
    unknown = [n for n in requested if n not in known]
    if unknown:
        raise NodeNotFound(f"Unknown nodes: {', '.join(unknown)}.")
    offline = [n for n in requested if known[n].status not in ALIVE_STATUSES]
    described = ", ".join(f"{n} ({known[n].status})" for n in offline)
    if len(offline) > len(set(requested)) // 2:
        # No majority could ever commit a round: the swarm is split, not merely short of a node.
        raise NetworkPartition(f"A majority of the named nodes is unreachable: {described}.")
    if offline:
        raise NodeNotFound(f"Nodes not active: {described}.")
    return list(dict.fromkeys(requested))


def session_start(*, request: Mapping[str, Any], dispatch: Callable[[str, str], None]) -> TrainingSession:
    """Start a session from the start request's validated fields. The dataset is a prepared one,
    or a spec whose local files are looked for here, before any lock (the nodes prepare it on
    first use; a hub dataset is only checked by them, and a missing one fails their runs with
    the reason). The model's vocabulary is the tokenizer's."""
    sweep()  # on its own: a node found silent stays offline even if the start is refused
    dataset = str(request.get("dataset", ""))
    if not dataset_list().filter(name=dataset).exists():
        try:
            locate(dataset, data_roots=settings.DATA_ROOTS, data_dir=settings.DATA_DIR)
        except DatasetUnavailable as exc:
            raise Invalid({"dataset": [str(exc)]}) from None
    tokenizer, vocab = session_vocab(
        dataset=dataset, tokenizer=str(request.get("tokenizer", "byte")), vocab_size=request.get("vocab_size")
    )
    return _session_create(request={**request, "tokenizer": tokenizer, "model_vocab_size": vocab}, dispatch=dispatch)


@transaction.atomic
def _session_create(*, request: Mapping[str, Any], dispatch: Callable[[str, str], None]) -> TrainingSession:
    if TrainingSession.objects.select_for_update().filter(status__in=ACTIVE_SESSION_STATUSES).exists():
        raise TrainingInProgress("A training session is running; stop it first (POST /api/v1/training/stop).")
    plan = SessionPlan.build(members=_members(request.get("nodes")), request=request)
    _admit(plan)
    initial = checkpoint_to_load()
    if initial is not None:
        if initial.model_config and initial.model_config != plan.model.to_dict():
            raise Invalid({"model_config": [f"the loaded model {initial.id} has {initial.model_config}"]})
        initial.loaded_at = None  # consumed by this session
        initial.save(update_fields=["loaded_at"])
    members = list(plan.members)
    session = TrainingSession.objects.create(
        dataset=plan.dataset,
        strategy=plan.strategy.name,
        epochs=plan.train.epochs,
        batch_size=plan.train.batch_size,
        learning_rate=plan.train.learning_rate,
        max_steps=plan.train.max_steps,
        config=plan.to_json(),
        initial_checkpoint=initial,
        admits_nodes=not request.get("nodes"),
    )
    NodeRun.objects.bulk_create(
        NodeRun(session=session, node_id=node_id, rank=rank) for rank, node_id in enumerate(members)
    )
    Node.objects.filter(id__in=members).update(status=NodeStatus.TRAINING)
    publish_on_commit(
        "training_started",
        {
            "session_id": session.id,
            "status": session.status,
            "dataset": session.dataset,
            "strategy": session.strategy,
            "nodes": members,
        },
    )
    for node_id in members:
        transaction.on_commit(functools.partial(dispatch, session.id, node_id))
    return session


ADMIT_FRACTION = 0.9  # of a node's memory a session may plan to use: the rest is the runtime's


def _admit(plan: SessionPlan) -> None:
    """Admission control: the session's memory need per node (engine.memory) fits every chosen
    node whose memory is known, else 400 naming the need and the nodes short of it."""
    need = training_memory(
        plan.model, batch_size=plan.train.batch_size, members=len(plan.members), wire_dtype=plan.wire_dtype
    )
    short = [
        f"{node.id} has {memory / GIB:.1f} GiB"
        for node in Node.objects.filter(id__in=plan.members, memory_total__isnull=False).order_by("id")
        if (memory := node.memory_total or 0) and need.total_bytes > ADMIT_FRACTION * memory
    ]
    if short:
        raise Invalid(
            {
                "model_config": [
                    f"this session needs {need.describe()}, more than {ADMIT_FRACTION:.0%} of what"
                    f" {'; '.join(short)}: choose a smaller model, batch_size or seq_len"
                ]
            }
        )


@transaction.atomic
def session_stop(*, session: TrainingSession) -> TrainingSession:
    """Ask every node to stop after its current inner step; they save the model and report."""
    if session.status == SessionStatus.RUNNING:
        session.status = SessionStatus.STOPPING
        session.stop_requested_at = timezone.now()
        session.save(update_fields=["status", "stop_requested_at"])
    transaction.on_commit(functools.partial(_cache_call, cache.set, stop_key(session.id), True, 7 * 24 * 3600))
    return session


# The stop flag lives in the cache (Redis in the fleet) for a cheap check every step, and in the
# database for good. The cache is never called inside a transaction (a Redis outage must not roll
# back what the database records), and a cache that fails is left alone for a while: every
# step would otherwise wait on it. The database is checked every few seconds regardless.
CACHE_RETRY_S = 5.0
_cache_down_until = 0.0


def _cache_call(call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)`` on the cache; None when it is unavailable (logged, then skipped for a while)."""
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return None
    try:
        return call(*args)
    except (RedisError, OSError) as exc:
        _cache_down_until = time.monotonic() + CACHE_RETRY_S
        logger.warning("cache unavailable (%s); stop flags fall back to the database for %.0fs", exc, CACHE_RETRY_S)
        return None


def stop_requested(session_id: str) -> bool:
    """The cache flag, checked every step; the row, at most every few seconds (a lost cache
    entry, or a cache that is down, must not make a stop request vanish)."""
    if _cache_call(cache.get, stop_key(session_id)):
        return True
    return _stop_in_db(session_id)


_last_db_check: dict[str, tuple[float, bool]] = {}
_db_check_lock = threading.Lock()


def _stop_in_db(session_id: str, every_s: float = 3.0) -> bool:
    now = timezone.now().timestamp()
    with _db_check_lock:
        checked, answer = _last_db_check.get(session_id, (0.0, False))
        if now - checked < every_s:
            return answer
    answer = TrainingSession.objects.filter(id=session_id, status=SessionStatus.STOPPING).exists()
    with _db_check_lock:
        _last_db_check[session_id] = (now, answer)
    return answer


@transaction.atomic
def run_finish(
    *, run_id: int, status: RunStatus, metrics: dict[str, Any], error: str = "", claim: str | None = None
) -> None:
    """End a run. ``claim``: the token of the incarnation finishing it, which must still hold the
    run (``StaleRun`` otherwise: a rejoined incarnation has taken it over). The sweep, which
    ends the runs of silent nodes on their behalf, passes none."""
    run = NodeRun.objects.select_for_update().get(id=run_id)
    if claim is not None and run.claimed_by != claim:
        raise StaleRun(f"{run.node_id} in {run.session_id}: the run is held by another incarnation now.")
    run.status, run.metrics, run.error = status, metrics, error
    run.save(update_fields=["status", "metrics", "error", "updated_at"])
    Node.objects.filter(id=run.node_id, status=NodeStatus.TRAINING).update(status=NodeStatus.ACTIVE)
    session_finish_if_done(session_id=run.session_id)


@transaction.atomic
def run_lost(*, run_id: int, claim: str, error: str) -> bool:
    """The process training a run lost part of itself (a rank of a node of several processes
    died): the run goes offline with the reason, as if its node had been killed, so that the
    restarted worker rejoins it. False (and nothing changed) where the run had already ended,
    or is held by another incarnation."""
    run = NodeRun.objects.select_for_update().get(id=run_id)
    if run.claimed_by != claim or run.status != RunStatus.TRAINING:
        return False
    run_finish(run_id=run_id, status=RunStatus.OFFLINE, metrics=run.metrics, error=error, claim=claim)
    return True


@transaction.atomic
def session_finish_if_done(*, session_id: str) -> None:
    """When no run is left training, the session ends: stopped if a stop was asked, failed if
    every run failed, completed otherwise; its final figures come from its runs."""
    session = TrainingSession.objects.select_for_update().get(id=session_id)
    if session.status not in ACTIVE_SESSION_STATUSES:
        return
    runs = list(session.runs.all())
    if any(r.status not in FINISHED_RUN_STATUSES for r in runs):
        return
    now = timezone.now()
    if session.status == SessionStatus.STOPPING:
        session.status = SessionStatus.STOPPED
    elif all(r.status in (RunStatus.FAILED, RunStatus.OFFLINE) for r in runs):
        session.status = SessionStatus.FAILED
        session.error = "; ".join(f"{r.node_id}: {r.error}" for r in runs if r.error)
    else:
        session.status = SessionStatus.COMPLETED
    session.finished_at = now
    session.metrics = {**session_summary(runs), **session.metrics}
    if session.stop_requested_at:
        session.metrics["stop_latency_s"] = (now - session.stop_requested_at).total_seconds()
    session.save(update_fields=["status", "finished_at", "metrics", "error"])
    transaction.on_commit(functools.partial(_cache_call, cache.delete, stop_key(session_id)))
    transaction.on_commit(functools.partial(snapshots_prune, session_id, keep_latest=session.final_model_id is None))
    publish_on_commit(
        "training_stopped",
        {"session_id": session.id, "status": session.status, "metrics": session.metrics, "error": session.error},
    )


def session_summary(runs: list[NodeRun]) -> dict[str, Any]:
    finished = [r.metrics for r in runs if r.metrics]
    if not finished:
        return {}
    compute = sum(m.get("compute_seconds", 0.0) for m in finished)
    exchange = sum(m.get("exchange_seconds", 0.0) for m in finished)
    return {
        "val_loss": min((m["val_loss"] for m in finished if m.get("val_loss") is not None), default=None),
        "val_bits_per_byte": min(
            (m["val_bits_per_byte"] for m in finished if m.get("val_bits_per_byte") is not None), default=None
        ),
        "val_accuracy": max((m["val_accuracy"] for m in finished if m.get("val_accuracy") is not None), default=None),
        "model_hashes": sorted({m.get("model_hash", "") for m in finished}),
        "steps": max(m.get("steps", 0) for m in finished),
        "rounds": max(m.get("rounds", 0) for m in finished),
        "bytes_sent": sum(m.get("bytes_sent", 0) for m in finished),
        "bytes_received": sum(m.get("bytes_received", 0) for m in finished),
        "compute_seconds": compute,
        "exchange_seconds": exchange,
        # Share of node time spent in rounds (exchange, validation, voting, merge) vs computing.
        "round_overhead": exchange / (compute + exchange) if compute + exchange else 0.0,
        # The nodes' last reported MFU, averaged (None where no device peak was known).
        "mfu": (sum(m) / len(m)) if (m := [r.mfu for r in runs if r.mfu is not None]) else None,
    }


SWEEP_KEY = "ncrsh.sweep"


def sweep_due() -> bool:
    """Sweep if no process of the fleet has in the last heartbeat period: every server and worker
    heartbeat calls this, and one of them sweeps (a cache key, Redis in the fleet, decides which),
    so the database sees one sweep per period whether there are 2 nodes or 10,000. With the
    cache down, each sweeps (the sweep is idempotent). Returns whether this one swept."""
    claimed = _cache_call(cache.add, SWEEP_KEY, True, settings.HEARTBEAT_S)
    if claimed is False:
        return False
    sweep()
    return True


def sweep() -> None:
    """Nodes past their heartbeat turn offline, and their runs leave their sessions (the others
    go on: rounds proceed without them once their deadline passes); so do runs whose process
    stopped beating although their node beats."""
    node_sweep_offline()
    # Silent twice over: the node missed its heartbeats and the run stopped reporting (a busy
    # host's late heartbeat alone must not take a live run out of its session).
    quiet_since = timezone.now() - timedelta(seconds=settings.OFFLINE_AFTER_S)
    silent = NodeRun.objects.filter(
        status__in=(RunStatus.QUEUED, RunStatus.TRAINING),
        node__status__in=(NodeStatus.OFFLINE, NodeStatus.LEFT),
        updated_at__lt=quiet_since,
    )
    for run in silent:
        run_finish(run_id=run.id, status=RunStatus.OFFLINE, metrics=run.metrics, error="node went offline")
    # A run has its own pulse, beaten by the process training it (runtime.run_pulse): one silent
    # while its node still beats has lost that process. Offline, so a restarted worker rejoins it.
    lost = NodeRun.objects.filter(status=RunStatus.TRAINING, updated_at__lt=quiet_since)
    for run in lost:
        run_finish(run_id=run.id, status=RunStatus.OFFLINE, metrics=run.metrics, error="its process stopped reporting")


@transaction.atomic
def runs_rejoin(*, node_id: str, dispatch: Callable[[str, str], None]) -> list[str]:
    """A node that comes back (a restarted worker, or an embedded server's local node after a
    crash) takes up its runs in sessions still going: runs marked offline, left 'training' by
    its previous, dead, incarnation, or queued to it (a task that died with it; one still in the
    broker is harmless: whichever delivery claims the run first trains it, the other returns).
    They are queued again and sent to it; it resumes from the swarm's latest global state. Its
    runs in a session that was stopping when it died are stopped."""
    stopping = NodeRun.objects.filter(
        node_id=node_id,
        status__in=(RunStatus.QUEUED, RunStatus.TRAINING),
        session__status=SessionStatus.STOPPING,
    )
    for run_id in stopping.values_list("id", flat=True):
        run_finish(run_id=run_id, status=RunStatus.STOPPED, metrics={}, error="its node restarted while stopping")
    runs = list(
        NodeRun.objects.select_for_update().filter(
            node_id=node_id,
            status__in=(RunStatus.OFFLINE, RunStatus.TRAINING, RunStatus.QUEUED),
            session__status=SessionStatus.RUNNING,
        )
    )
    for run in runs:
        run.status, run.claimed_by, run.error = RunStatus.QUEUED, "", ""
        run.save(update_fields=["status", "claimed_by", "error", "updated_at"])
        transaction.on_commit(functools.partial(dispatch, run.session_id, node_id))
    if runs:
        Node.objects.filter(id=node_id).update(status=NodeStatus.TRAINING)
    return [run.session_id for run in runs]


def session_snapshot(*, session: TrainingSession) -> Checkpoint:
    """Register the session's current global model: the latest round's snapshot while it runs,
    its final model once it has ended."""
    latest = snapshot_latest(session.id)
    if latest is None and session.final_model is not None:
        checkpoint_verify(checkpoint=session.final_model)
        path = checkpoint_path(session.final_model)
        latest = (path, read_metadata(path))
    if latest is None:
        raise NotFound(f"{session.id} has no model yet: the first round has not committed.")
    source, metadata = latest
    return checkpoint_register(
        source=source,
        session_id=session.id,
        round_index=int(metadata.get("round", 0)),
        step=int(metadata.get("step", 0)),
        model_hash=str(metadata.get("model_hash", "")),
        metrics=session.metrics,
        model_config=session.plan.model.to_dict(),
    )
