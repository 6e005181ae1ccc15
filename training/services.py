"""Training sessions: start, stop, and the bookkeeping of their node runs. No torch here."""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from models_store.selectors import checkpoint_to_load
from ncrsh_site.errors import NetworkPartition, NodeNotFound, TrainingInProgress
from ncrsh_site.events import publish_on_commit
from nodes.models import ALIVE_STATUSES, Node, NodeStatus
from nodes.services import node_sweep_offline
from training.engine.config import (
    PRESETS,
    AggregatorConfig,
    ModelConfig,
    Policy,
    TrainConfig,
    make_strategy,
)
from training.engine.datasets import load_bytes
from training.engine.errors import AggregatorBoundError, DatasetUnavailable
from training.models import (
    ACTIVE_SESSION_STATUSES,
    FINISHED_RUN_STATUSES,
    NodeRun,
    RunStatus,
    SessionStatus,
    TrainingSession,
)


def stop_key(session_id: str) -> str:
    return f"ncrsh:stop:{session_id}"


@dataclass(frozen=True)
class SessionRequest:
    """What POST /api/v1/training/start asked for; ``knobs`` are the strategy, policy and
    inner-loop settings beyond the spec's fields."""

    dataset: str
    epochs: int
    batch_size: int
    learning_rate: float
    strategy: str
    max_steps: int | None = None
    nodes: list[str] | None = None  # None or empty: every active node
    model_config: dict[str, Any] = field(default_factory=dict)
    knobs: dict[str, Any] = field(default_factory=dict)


POLICY_KNOBS = (
    "quorum",
    "min_participants",
    "deadline_s",
    "check_loss",
    "kappa",
    "epsilon",
    "voting",
    "require_operator_approval",
)


def engine_config(*, members: list[str], request: SessionRequest) -> dict[str, Any]:
    """Validate everything the engine will be given, with the engine's own config classes,
    and return it as plain JSON for the session row. Bad values are 400s naming the field."""
    fields: dict[str, list[str]] = {}
    knobs = request.knobs
    model_config = dict(request.model_config)
    preset = model_config.pop("preset", "tiny")
    try:
        model = dataclasses.replace(PRESETS[preset](), **model_config)
    except (KeyError, TypeError, ValueError) as exc:
        fields["model_config"] = [f"{preset!r}: {exc}" if not isinstance(exc, KeyError) else f"unknown preset {exc}"]
        model = ModelConfig()
    try:
        train = TrainConfig(
            batch_size=request.batch_size,
            learning_rate=request.learning_rate,
            epochs=request.epochs,
            max_steps=request.max_steps,
            **{k: knobs[k] for k in ("warmup_steps", "grad_clip", "weight_decay", "log_every") if k in knobs},
        )
    except ValueError as exc:
        fields["non_field_errors"] = [str(exc)]
        train = TrainConfig()
    try:
        chosen = make_strategy(
            request.strategy,
            local_steps=knobs.get("local_steps"),
            outer_lr=knobs.get("outer_lr"),
            outer_momentum=knobs.get("outer_momentum"),
        )
    except ValueError as exc:
        fields["strategy"] = [str(exc)]
        chosen = make_strategy("diloco")
    try:
        aggregator = AggregatorConfig(name=knobs.get("aggregator", "mean"), f=knobs.get("aggregator_f", 0))
        aggregator.check(len(members))
        policy = Policy(
            aggregator=aggregator,
            **{k: knobs[k] for k in POLICY_KNOBS if k in knobs},
        )
    except (ValueError, AggregatorBoundError) as exc:
        fields["aggregator"] = [str(exc)]
        policy = Policy()
    if fields:
        raise ValidationError(fields)
    return {
        "members": members,
        "model_config": model.to_dict(),
        "train": dataclasses.asdict(train),
        "strategy": dataclasses.asdict(chosen),
        "policy": {**dataclasses.asdict(policy), "aggregator": dataclasses.asdict(policy.aggregator)},
        "wire_dtype": knobs.get("wire_dtype", "float32"),
    }


def _check_dataset(spec: str) -> None:
    try:
        load_bytes(spec, data_roots=settings.DATA_ROOTS, data_dir=settings.DATA_DIR, max_bytes=4096)
    except DatasetUnavailable as exc:
        raise ValidationError({"dataset": [str(exc)]}) from None


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


def session_start(*, request: SessionRequest, dispatch: Callable[[str, str], None]) -> TrainingSession:
    sweep()  # on its own: a node found silent stays offline even if the start is refused
    return _session_create(request=request, dispatch=dispatch)


@transaction.atomic
def _session_create(*, request: SessionRequest, dispatch: Callable[[str, str], None]) -> TrainingSession:
    if TrainingSession.objects.select_for_update().filter(status__in=ACTIVE_SESSION_STATUSES).exists():
        raise TrainingInProgress("A training session is running; stop it first (POST /api/v1/training/stop).")
    members = _members(request.nodes)
    config = engine_config(members=members, request=request)
    _check_dataset(request.dataset)
    initial = checkpoint_to_load()
    if initial is not None:
        if initial.model_config and initial.model_config != config["model_config"]:
            raise ValidationError({"model_config": [f"the loaded model {initial.id} has {initial.model_config}"]})
        initial.loaded_at = None  # consumed by this session
        initial.save(update_fields=["loaded_at"])
    session = TrainingSession.objects.create(
        dataset=request.dataset,
        strategy=request.strategy,
        epochs=request.epochs,
        batch_size=request.batch_size,
        learning_rate=request.learning_rate,
        max_steps=request.max_steps,
        config=config,
        initial_checkpoint=initial,
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


@transaction.atomic
def session_stop(*, session: TrainingSession) -> TrainingSession:
    """Ask every node to stop after its current inner step; they save the model and report."""
    if session.status == SessionStatus.RUNNING:
        session.status = SessionStatus.STOPPING
        session.stop_requested_at = timezone.now()
        session.save(update_fields=["status", "stop_requested_at"])
    cache.set(stop_key(session.id), True, timeout=7 * 24 * 3600)
    return session


def stop_requested(session_id: str) -> bool:
    """The cache flag, checked every step; the row, at most every few seconds (a lost cache
    entry must not make a stop request vanish)."""
    if cache.get(stop_key(session_id)):
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
def run_finish(*, run_id: int, status: RunStatus, metrics: dict[str, Any], error: str = "") -> None:
    run = NodeRun.objects.select_for_update().get(id=run_id)
    run.status, run.metrics, run.error = status, metrics, error
    run.save(update_fields=["status", "metrics", "error", "updated_at"])
    Node.objects.filter(id=run.node_id, status=NodeStatus.TRAINING).update(status=NodeStatus.ACTIVE)
    session_finish_if_done(session_id=run.session_id)


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
    cache.delete(stop_key(session_id))
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
    }


def sweep() -> None:
    """Nodes past their heartbeat turn offline, and their runs leave their sessions (the others
    go on: rounds proceed without them once their deadline passes)."""
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


@transaction.atomic
def runs_rejoin(*, node_id: str, dispatch: Callable[[str, str], None]) -> list[str]:
    """A node that comes back (a restarted worker) takes up its runs in sessions still going:
    runs marked offline, or left 'training' by its previous, dead, incarnation. They are queued
    again and sent to it; it resumes from the swarm's latest global state."""
    runs = list(
        NodeRun.objects.select_for_update().filter(
            node_id=node_id,
            status__in=(RunStatus.OFFLINE, RunStatus.TRAINING),
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
