"""Validation of POST /api/v1/training/start; nothing is dispatched unless all is well."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from nodes.models import Node, NodeStatus
from training.models import NodeRun, SessionStatus, TrainingSession

pytestmark = pytest.mark.django_db
URL = "/api/v1/training/start"


@pytest.fixture
def dispatched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What would be sent to the nodes (dispatch happens on commit)."""
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr("training.api.dispatch_run", lambda session, node: calls.append((session, node)))
    return calls


@pytest.fixture
def two_nodes() -> list[str]:
    return [Node.objects.create(status=NodeStatus.ACTIVE, last_seen=timezone.now()).id for _ in range(2)]


def _start(client: APIClient, **body: Any) -> Any:
    return client.post(URL, {"dataset": "builtin:pystdlib", "max_steps": 10, **body}, format="json")


def test_a_valid_request_creates_the_session_and_dispatches_every_node(
    staff_client: APIClient,
    two_nodes: list[str],
    dispatched: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = _start(staff_client, strategy="cooperative_sgd", local_steps=5, batch_size=4)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["session_id"].startswith("training_")
    assert body["status"] == "running"
    assert sorted(n["id"] for n in body["nodes"]) == sorted(two_nodes)
    assert sorted(node for _, node in dispatched) == sorted(two_nodes)
    session = TrainingSession.objects.get(id=body["session_id"])
    assert session.config["strategy"]["local_steps"] == 5
    assert session.config["model_config"]["hidden_size"] == 64  # the tiny preset by default
    assert set(Node.objects.values_list("status", flat=True)) == {"training"}


def test_omitted_nodes_mean_all_active_ones(
    staff_client: APIClient, dispatched: list[tuple[str, str]], django_capture_on_commit_callbacks: Any
) -> None:
    alive = Node.objects.create(status=NodeStatus.ACTIVE, last_seen=timezone.now())
    Node.objects.create(status=NodeStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        assert _start(staff_client).status_code == 201
    assert dispatched == [(TrainingSession.objects.get().id, alive.id)]


def test_unknown_nodes_are_404_with_1001(staff_client: APIClient, two_nodes: list[str], dispatched: list) -> None:
    response = _start(staff_client, nodes=[*two_nodes, "node_deadbeef"])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 1001
    assert "node_deadbeef" in response.json()["error"]["detail"]
    assert not TrainingSession.objects.exists()
    assert dispatched == []


def test_a_minority_of_offline_nodes_is_404_with_1001(
    staff_client: APIClient, two_nodes: list[str], dispatched: list
) -> None:
    node = Node.objects.create(status=NodeStatus.OFFLINE)
    response = _start(staff_client, nodes=[*two_nodes, node.id])
    assert (response.status_code, response.json()["error"]["code"]) == (404, 1001)
    assert f"{node.id} (offline)" in response.json()["error"]["detail"]


def test_a_majority_of_unreachable_nodes_is_503_with_1005(
    staff_client: APIClient, two_nodes: list[str], dispatched: list
) -> None:
    gone = [Node.objects.create(status=status).id for status in (NodeStatus.OFFLINE, NodeStatus.LEFT)]
    response = _start(staff_client, nodes=[two_nodes[0], *gone])
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": 1005,
        "message": "NETWORK_PARTITION",
        "detail": f"A majority of the named nodes is unreachable: {gone[0]} (offline), {gone[1]} (left).",
    }
    assert not TrainingSession.objects.exists()
    assert dispatched == []


def test_a_node_past_its_heartbeat_is_swept_offline_first(
    staff_client: APIClient, settings: Settings, dispatched: list
) -> None:
    stale = Node.objects.create(status=NodeStatus.ACTIVE, last_seen=timezone.now() - timedelta(hours=1))
    assert _start(staff_client, nodes=[stale.id]).status_code == 503  # the one named node is unreachable
    assert Node.objects.get(id=stale.id).status == "offline"


def test_a_running_session_is_409_with_1002(staff_client: APIClient, two_nodes: list[str], dispatched: list) -> None:
    TrainingSession.objects.create(dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1)
    response = _start(staff_client)
    assert (response.status_code, response.json()["error"]["code"]) == (409, 1002)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": "file:../../etc/passwd"}, "dataset"),
        ({"dataset": "no-such-folder"}, "dataset"),
        ({"dataset": "huggingface:"}, "dataset"),
        ({"dataset": "s3:bucket/corpus"}, "dataset"),
        ({"strategy": "gossip"}, "strategy"),
        ({"aggregator": "krum", "aggregator_f": 1}, "aggregator"),
        ({"model_config": {"hidden_size": 65}}, "model_config"),
        ({"model_config": {"preset": "huge"}}, "model_config"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"unknown_knob": 1}, "unknown_knob"),
        ({"min_participants": 3}, "min_participants"),  # two members: no round could commit
    ],
)
def test_bad_settings_are_400_naming_the_field(
    staff_client: APIClient, two_nodes: list[str], dispatched: list, body: dict[str, Any], field: str
) -> None:
    response = _start(staff_client, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["detail"]
    assert not TrainingSession.objects.exists()
    assert dispatched == []


def test_a_hub_dataset_is_checked_by_the_nodes_and_a_missing_one_fails_the_session_with_the_reason(
    staff_client: APIClient,
    two_nodes: list[str],
    dispatched: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The runs execute in the test's thread, inside its transaction: keep its connection open.
    monkeypatch.setattr("training.runtime.close_old_connections", lambda: None)
    # The request does no network I/O: a well-formed hub spec starts the session...
    with django_capture_on_commit_callbacks(execute=True):
        response = _start(staff_client, dataset="huggingface:no-such-org/no-such-dataset")
    assert response.status_code == 201, response.content
    # ...and each node, reading it, fails its run with the reason; the session fails with both.
    from training.runtime import execute_run

    with django_capture_on_commit_callbacks(execute=True):
        for session_id, node_id in dispatched:
            execute_run(session_id, node_id)
    session = TrainingSession.objects.get(id=response.json()["session_id"])
    assert session.status == SessionStatus.FAILED
    assert session.error.count("DatasetUnavailable: huggingface:no-such-org/no-such-dataset") == 2
    assert set(session.runs.values_list("status", flat=True)) == {"failed"}


def test_only_staff_may_start_training(member_client: APIClient, two_nodes: list[str], dispatched: list) -> None:
    assert _start(member_client).status_code == 403


def test_status_is_404_before_any_session(member_client: APIClient) -> None:
    response = member_client.get("/api/v1/training/status")
    assert response.status_code == 404


def test_status_has_the_spec_shape(member_client: APIClient, two_nodes: list[str]) -> None:
    session = TrainingSession.objects.create(dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1, epochs=4)
    for rank, node_id in enumerate(two_nodes):
        NodeRun.objects.create(session=session, node_id=node_id, rank=rank, loss=2.0 + rank, accuracy=0.5, epoch=1)
    body = member_client.get("/api/v1/training/status").json()
    assert body["session_id"] == session.id
    assert body["status"] == "running"
    assert body["progress"]["total_epochs"] == 4
    assert body["progress"]["loss"] == pytest.approx(2.5)
    assert {n["id"] for n in body["nodes"]} == set(two_nodes)
    assert {"id", "status", "batch_progress"} <= set(body["nodes"][0])


def test_stop_marks_the_session_stopping(staff_client: APIClient, two_nodes: list[str]) -> None:
    session = TrainingSession.objects.create(dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1)
    body = staff_client.post("/api/v1/training/stop").json()
    assert body["status"] == "stopping"
    assert TrainingSession.objects.get(id=session.id).status == SessionStatus.STOPPING
