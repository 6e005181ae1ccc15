"""Redis down (issue 17): on main at dabd97c every training step read the stop flag from the
Redis cache with no fallback (every run died within ~80 ms of an outage), and a run's failure
record was rolled back because its transaction also deleted a Redis key, leaving the session
wedged. Here the cache and the broker point at a port where no Redis listens (a real refused
connection, nothing mocked)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone
from kombu.exceptions import OperationalError
from pytest_django.fixtures import Settings

from nodes.models import Node, NodeStatus
from training import services
from training.dispatch import dispatch_run
from training.models import NodeRun, RunStatus, SessionStatus, TrainingSession
from training.tasks import run_node

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_redis() -> str:
    with socket.socket() as sock:  # a port nothing listens on once this closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def cache_down(settings: Settings, dead_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead_redis,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    monkeypatch.setattr(services, "cache", caches["default"])
    monkeypatch.setattr(services, "_cache_down_until", 0.0)
    monkeypatch.setattr(services, "_last_db_check", {})


def _session(status: str = SessionStatus.RUNNING) -> TrainingSession:
    node = Node.objects.create(status=NodeStatus.TRAINING, last_seen=timezone.now())
    session = TrainingSession.objects.create(
        dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1, status=status
    )
    NodeRun.objects.create(session=session, node_id=node.id, rank=0, status=RunStatus.TRAINING)
    return session


def test_a_stop_is_recorded_and_seen_with_the_cache_down(
    cache_down: None, django_capture_on_commit_callbacks: Any
) -> None:
    session = _session()
    assert services.stop_requested(session.id) is False  # a step goes on: no exception
    with django_capture_on_commit_callbacks(execute=True):
        services.session_stop(session=session)
    assert TrainingSession.objects.get(id=session.id).status == SessionStatus.STOPPING
    services._last_db_check.clear()  # the next database check is due
    assert services.stop_requested(session.id) is True


def test_a_run_that_fails_with_the_cache_down_is_recorded_and_ends_the_session(
    cache_down: None, django_capture_on_commit_callbacks: Any
) -> None:
    session = _session()
    run = session.runs.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.run_finish(run_id=run.id, status=RunStatus.FAILED, metrics={}, error="the exchange is gone")
    assert NodeRun.objects.get(id=run.id).status == RunStatus.FAILED
    ended = TrainingSession.objects.get(id=session.id)
    assert (ended.status, ended.error) == (SessionStatus.FAILED, f"{run.node_id}: the exchange is gone")


def test_a_run_that_cannot_reach_the_broker_fails_with_the_reason(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Logic only: what kombu raises once its own retries against a dead broker are spent.
    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    settings.EMBEDDED = False
    monkeypatch.setattr(run_node, "apply_async", unreachable)
    session = _session()
    run = session.runs.get()
    NodeRun.objects.filter(id=run.id).update(status=RunStatus.QUEUED)
    dispatch_run(session.id, run.node_id)
    failed = NodeRun.objects.get(id=run.id)
    assert failed.status == RunStatus.FAILED
    assert failed.error == "the broker is unreachable: Error 111 connecting to 127.0.0.1:6379. Connection refused."
    assert TrainingSession.objects.get(id=session.id).status == SessionStatus.FAILED
