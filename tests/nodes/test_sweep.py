"""The offline sweep: silent nodes go offline in bulk, announced once; reads never sweep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from nodes import services
from nodes.models import Node, NodeStatus
from tests.support.services import plan_config
from training.models import TrainingSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(services, "publish_on_commit", lambda type_, data: events.append((type_, dict(data))))
    return events


def _nodes(count: int, *, silent_for: timedelta) -> list[str]:
    seen = timezone.now() - silent_for
    start = Node.objects.count()
    ids = [f"node_{start + i:04d}" for i in range(count)]
    Node.objects.bulk_create([Node(id=i, status=NodeStatus.ACTIVE, last_seen=seen) for i in ids])
    return ids


def test_silent_nodes_go_offline_in_one_update_with_one_event(
    announced: list[tuple[str, dict[str, Any]]], django_assert_max_num_queries: Any
) -> None:
    alive = _nodes(3, silent_for=timedelta(seconds=1))
    silent = _nodes(50, silent_for=timedelta(hours=1))
    with django_assert_max_num_queries(4):  # whatever the number of nodes: a select, an update
        gone = services.node_sweep_offline()
    assert sorted(gone) == silent
    assert set(Node.objects.filter(status=NodeStatus.OFFLINE).values_list("id", flat=True)) == set(silent)
    assert set(Node.objects.filter(status=NodeStatus.ACTIVE).values_list("id", flat=True)) == set(alive)
    assert announced == [
        ("node_left", {"node_ids": silent, "count": 50, "status": "offline", "reason": "heartbeat missed"})
    ]
    assert services.node_sweep_offline() == []  # nothing left to sweep, nothing announced
    assert len(announced) == 1


def test_a_single_silent_node_is_announced_as_itself(announced: list[tuple[str, dict[str, Any]]]) -> None:
    (silent,) = _nodes(1, silent_for=timedelta(hours=1))
    Node.objects.filter(id=silent).update(address="10.0.0.7:8080")
    services.node_sweep_offline()
    assert announced == [
        (
            "node_left",
            {"node_id": silent, "address": "10.0.0.7:8080", "status": "offline", "reason": "heartbeat missed"},
        )
    ]


def test_reading_the_training_status_writes_nothing(member_client: APIClient) -> None:
    silent = _nodes(2, silent_for=timedelta(hours=1))
    TrainingSession.objects.create(
        dataset="builtin:pystdlib", strategy="diloco", batch_size=8, learning_rate=0.01, config=plan_config(silent)
    )
    assert member_client.get("/api/v1/training/status").status_code == 200
    assert set(Node.objects.values_list("status", flat=True)) == {NodeStatus.ACTIVE}


def test_the_fleet_sweeps_once_per_heartbeat_period_whoever_beats(settings: Settings) -> None:
    from django.core.cache import cache

    from training.services import SWEEP_KEY, sweep_due

    settings.HEARTBEAT_S = 60
    cache.delete(SWEEP_KEY)
    first = _nodes(2, silent_for=timedelta(hours=1))
    assert sweep_due() is True  # this process claimed the period and swept
    assert set(Node.objects.filter(id__in=first).values_list("status", flat=True)) == {NodeStatus.OFFLINE}
    later = _nodes(2, silent_for=timedelta(hours=1))
    assert [sweep_due() for _ in range(5)] == [False] * 5  # the other beats of the period
    assert set(Node.objects.filter(id__in=later).values_list("status", flat=True)) == {NodeStatus.ACTIVE}
    cache.delete(SWEEP_KEY)  # the period is over
    assert sweep_due() is True
    assert set(Node.objects.filter(id__in=later).values_list("status", flat=True)) == {NodeStatus.OFFLINE}
