from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ncrsh_site.errors import NotFound
from training.models import ACTIVE_SESSION_STATUSES, TrainingSession


def session_list(*, status: str | None = None) -> QuerySet[TrainingSession]:
    """Newest first, of one status or any."""
    sessions = TrainingSession.objects.all()
    return sessions.filter(status=status) if status else sessions


def session_get(*, session_id: str) -> TrainingSession:
    try:
        return TrainingSession.objects.get(id=session_id)
    except TrainingSession.DoesNotExist:
        raise NotFound(f"No training session with id {session_id!r}.") from None


def session_latest() -> TrainingSession | None:
    """The running session, else the most recent one, else None."""
    return TrainingSession.objects.filter(status__in=ACTIVE_SESSION_STATUSES).first() or TrainingSession.objects.first()


def session_current() -> TrainingSession:
    """The running session, else the most recent one."""
    session = session_latest()
    if session is None:
        raise NotFound("No training session yet: start one with POST /api/v1/training/start.")
    return session


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def session_status(session: TrainingSession) -> dict[str, Any]:
    """The spec's status shape, from the session's node runs."""
    runs = list(session.runs.all())
    reporting = [r for r in runs if r.loss is not None]
    progress = {
        "epoch": min((r.epoch for r in runs), default=0),
        "total_epochs": session.epochs,
        "loss": _mean([r.loss for r in reporting if r.loss is not None]),
        "bits_per_byte": _mean([r.bits_per_byte for r in reporting if r.bits_per_byte is not None]),
        "accuracy": _mean([r.accuracy for r in reporting if r.accuracy is not None]),
        "step": min((r.step for r in runs), default=0),
        "total_steps": max((r.total_steps for r in runs), default=0),
        "tokens_per_s": sum(r.tokens_per_s or 0.0 for r in runs),
        "mfu": _mean([r.mfu for r in runs if r.mfu is not None]),
        "round": max((r.round for r in runs), default=0),
    }
    return {
        "session_id": session.id,
        "status": session.status,
        "progress": progress,
        "nodes": [
            {
                "id": r.node_id,
                "status": r.status,
                "batch_progress": r.batch_progress,
                "step": r.step,
                "loss": r.loss,
                "bits_per_byte": r.bits_per_byte,
                "tokens_per_s": r.tokens_per_s,
                "mfu": r.mfu,
                "model_hash": r.model_hash or None,
            }
            for r in runs
        ],
    }


def session_members_at(*, session_id: str, index: int) -> list[str]:
    """Round ``index``'s members of the session (read afresh: nodes may have been admitted)."""
    return TrainingSession.objects.only("dataset", "config", "joined").get(id=session_id).members_at(index)
