"""A run's claim is a fence: only the incarnation holding it reports or finishes the run."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from engine.tokenizer import load_tokenizer
from nodes.models import Node, NodeStatus
from tests.support.services import plan_config
from training.models import NodeRun, RunStatus, SessionStatus, TrainingSession
from training.reporting import DatabaseReporter
from training.runtime import _stores, execute_run
from training.services import StaleRun, run_finish, runs_rejoin

pytestmark = pytest.mark.django_db


def _claim(run: NodeRun, token: str) -> None:
    """What execute_run does first: compare-and-set from queued."""
    assert NodeRun.objects.filter(id=run.id, status=RunStatus.QUEUED).update(
        status=RunStatus.TRAINING, claimed_by=token
    )
    run.refresh_from_db()


def test_a_stale_incarnation_cannot_finish_or_report_after_a_rejoin() -> None:
    node = Node.objects.create(status=NodeStatus.ACTIVE, last_seen=timezone.now())
    other = Node.objects.create(status=NodeStatus.ACTIVE, last_seen=timezone.now())
    session = TrainingSession.objects.create(
        dataset="builtin:pystdlib",
        strategy="diloco",
        batch_size=4,
        learning_rate=0.01,
        config=plan_config([node.id, other.id]),
    )
    run = NodeRun.objects.create(session=session, node=node, rank=0)
    NodeRun.objects.create(session=session, node=other, rank=1, status=RunStatus.TRAINING, claimed_by="x")
    _claim(run, "old")
    stale = NodeRun.objects.get(id=run.id)
    stale_reporter = DatabaseReporter(stale, session, load_tokenizer("byte"))

    # The worker restarts: its run is queued again and the new incarnation claims it.
    assert runs_rejoin(node_id=node.id, dispatch=lambda session_id, node_id: None) == [session.id]
    _claim(run, "new")

    with pytest.raises(StaleRun, match="held by another incarnation"):
        run_finish(run_id=run.id, status=RunStatus.COMPLETED, metrics={"steps": 1}, claim="old")
    stale_reporter.log(
        {
            "loss": 9.0,
            "bits_per_byte": 13.0,
            "accuracy": 0.0,
            "tokens_per_s": 1.0,
            "epoch": 0,
            "batch_progress": 0.0,
            "round": 7,
        },
        99,
    )
    run.refresh_from_db()
    assert (run.status, run.claimed_by, run.step, run.metrics) == (RunStatus.TRAINING, "new", 0, {})

    run_finish(run_id=run.id, status=RunStatus.COMPLETED, metrics={"steps": 5}, claim="new")
    run.refresh_from_db()
    assert (run.status, run.metrics) == (RunStatus.COMPLETED, {"steps": 5})
    assert TrainingSession.objects.get(id=session.id).status == SessionStatus.RUNNING  # the other run goes on


def test_a_session_in_which_no_round_commits_fails_with_consensus_failed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    # Operator approval is required and no operator votes: every round fails at its deadline.
    settings.EMBEDDED = True
    monkeypatch.setattr("training.runtime.close_old_connections", lambda: None)
    node = Node.objects.create(status=NodeStatus.TRAINING, last_seen=timezone.now())
    plan = plan_config(
        [node.id], strategy="diloco", local_steps=2, max_steps=4, batch_size=2,
        require_operator_approval=True, deadline_s=0.2, check_loss=False,
    )  # fmt: skip
    session = TrainingSession.objects.create(
        dataset="builtin:pystdlib", strategy="diloco", batch_size=2, learning_rate=0.001, config=plan
    )
    NodeRun.objects.create(session=session, node=node, rank=0)
    with django_capture_on_commit_callbacks(execute=True):
        execute_run(session.id, node.id)
    session.refresh_from_db()
    assert session.status == SessionStatus.FAILED
    assert "CONSENSUS_FAILED (1003): none of 2 rounds committed" in session.error
    assert session.final_model is None
    assert session.id not in _stores.stores  # the embedded exchange went with the session's last run


def test_a_restarted_node_takes_up_its_queued_and_training_runs_and_ends_those_of_a_stopping_session(
    django_capture_on_commit_callbacks: Any,
) -> None:
    node = Node.objects.create(status=NodeStatus.ACTIVE, last_seen=timezone.now())

    def session(status: SessionStatus, run_status: RunStatus) -> NodeRun:
        created = TrainingSession.objects.create(
            dataset="builtin:pystdlib",
            strategy="diloco",
            batch_size=4,
            learning_rate=0.01,
            config=plan_config([node.id]),
            status=status,
        )
        return NodeRun.objects.create(session=created, node=node, rank=0, status=run_status, claimed_by="dead")

    queued = session(SessionStatus.RUNNING, RunStatus.QUEUED)  # its task died with the process
    training = session(SessionStatus.RUNNING, RunStatus.TRAINING)
    stopping = session(SessionStatus.STOPPING, RunStatus.TRAINING)
    sent: list[str] = []
    with django_capture_on_commit_callbacks(execute=True):
        rejoined = runs_rejoin(node_id=node.id, dispatch=lambda session_id, node_id: sent.append(session_id))
    assert sorted(rejoined) == sorted(sent) == sorted([queued.session_id, training.session_id])
    for run in (queued, training):
        run.refresh_from_db()
        assert (run.status, run.claimed_by) == (RunStatus.QUEUED, "")
    stopping.refresh_from_db()
    assert stopping.status == RunStatus.STOPPED
    assert TrainingSession.objects.get(id=stopping.session_id).status == SessionStatus.STOPPED
