"""A run has its own liveness, not only its node's (issue 17): on main at dabd97c a run whose
process was gone stayed 'training' for good while its node's heartbeat kept the node alive, and
its session stayed 'running' (start: 409, stop: 'stopping' forever)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from nodes.models import Node, NodeStatus
from training.models import NodeRun, RunStatus, SessionStatus, TrainingSession
from training.reporting import run_pulse
from training.services import runs_rejoin, sweep


def _session_with_runs(count: int) -> tuple[TrainingSession, list[NodeRun]]:
    session = TrainingSession.objects.create(dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1)
    runs = []
    for rank in range(count):
        node = Node.objects.create(status=NodeStatus.TRAINING, last_seen=timezone.now())  # beating
        runs.append(
            NodeRun.objects.create(session=session, node=node, rank=rank, status=RunStatus.TRAINING, claimed_by="t")
        )
    return session, runs


@pytest.mark.django_db
def test_a_silent_run_of_a_beating_node_is_retired_the_others_go_on_and_a_restart_rejoins_it(
    settings: Settings,
) -> None:
    session, (lost, alive) = _session_with_runs(2)
    NodeRun.objects.filter(id=lost.id).update(updated_at=_silent(settings))
    sweep()
    lost.refresh_from_db()
    assert (lost.status, lost.error) == (RunStatus.OFFLINE, "its process stopped reporting")
    assert Node.objects.get(id=lost.node_id).status == NodeStatus.ACTIVE  # the node itself is fine
    assert NodeRun.objects.get(id=alive.id).status == RunStatus.TRAINING
    assert TrainingSession.objects.get(id=session.id).status == SessionStatus.RUNNING  # the other goes on
    assert runs_rejoin(node_id=lost.node_id, dispatch=lambda *_: None) == [session.id]
    assert NodeRun.objects.get(id=lost.id).status == RunStatus.QUEUED


@pytest.mark.django_db
def test_a_session_whose_runs_all_lost_their_process_ends_and_frees_the_swarm(settings: Settings) -> None:
    session, (run,) = _session_with_runs(1)
    NodeRun.objects.filter(id=run.id).update(updated_at=_silent(settings))
    sweep()
    ended = TrainingSession.objects.get(id=session.id)
    assert (ended.status, ended.error) == (SessionStatus.FAILED, f"{run.node_id}: its process stopped reporting")


def _silent(settings: Settings) -> datetime:
    return timezone.now() - timedelta(seconds=settings.OFFLINE_AFTER_S + 1)


@pytest.mark.django_db(transaction=True)
def test_the_pulse_keeps_a_training_run_alive_and_stops_with_it(settings: Settings) -> None:
    settings.HEARTBEAT_S = 0.05
    _, (run,) = _session_with_runs(1)
    old = timezone.now() - timedelta(hours=1)
    NodeRun.objects.filter(id=run.id).update(updated_at=old)
    with run_pulse(run.id, "t"):
        time.sleep(0.5)
        assert NodeRun.objects.get(id=run.id).updated_at > old + timedelta(minutes=59)
        sweep()
        assert NodeRun.objects.get(id=run.id).status == RunStatus.TRAINING
    NodeRun.objects.filter(id=run.id).update(updated_at=old)
    time.sleep(0.2)
    assert NodeRun.objects.get(id=run.id).updated_at == old  # no beat once the run's process is done
