"""Retention (issue 17): on main at dabd97c the per-node snapshots of finished sessions were never
deleted (one model-sized file per node per session, for good)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from django.utils import timezone
from pytest_django.fixtures import Settings

from engine.checkpoint import save_checkpoint
from models_store.services import checkpoint_register, snapshot_path
from nodes.models import Node, NodeStatus
from training.models import NodeRun, RunStatus, SessionStatus, TrainingSession
from training.services import run_finish

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(tmp_path: Path, settings: Settings) -> TrainingSession:
    settings.CHECKPOINT_DIR = tmp_path / "checkpoints"
    session = TrainingSession.objects.create(dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1)
    for rank, round_index in enumerate((3, 5)):
        node = Node.objects.create(status=NodeStatus.TRAINING, last_seen=timezone.now())
        NodeRun.objects.create(session=session, node=node, rank=rank, status=RunStatus.TRAINING)
        save_checkpoint(snapshot_path(session.id, node.id), {"w": torch.zeros(4)}, {"round": round_index})
    return session


def _snapshots(session: TrainingSession, settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.CHECKPOINT_DIR / "sessions").glob(f"{session.id}.*"))


def _finish_all(session: TrainingSession, capture: Any) -> None:
    with capture(execute=True):
        for run in session.runs.all():
            run_finish(run_id=run.id, status=RunStatus.COMPLETED, metrics={})


def test_a_session_with_its_final_model_leaves_no_snapshot(
    session: TrainingSession, settings: Settings, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    source = tmp_path / "final.safetensors"
    save_checkpoint(source, {"w": torch.ones(4)}, {"round": 5})
    session.final_model = checkpoint_register(
        source=source, session_id=session.id, round_index=5, step=50, model_hash="x", metrics={}, model_config={}
    )
    session.save(update_fields=["final_model"])
    assert len(_snapshots(session, settings)) == 2
    _finish_all(session, django_capture_on_commit_callbacks)
    assert TrainingSession.objects.get(id=session.id).status == SessionStatus.COMPLETED
    assert _snapshots(session, settings) == []


def test_a_session_without_a_final_model_keeps_its_most_advanced_snapshot_only(
    session: TrainingSession, settings: Settings, django_capture_on_commit_callbacks: Any
) -> None:
    ahead = session.runs.get(rank=1).node_id  # wrote round 5
    _finish_all(session, django_capture_on_commit_callbacks)
    assert _snapshots(session, settings) == [f"{session.id}.{ahead}.latest.safetensors"]
