"""Admission control (issue 17): on main at dabd97c hidden_size 16384 x 256 layers, or seq_len
65536 x batch 4096, were accepted (201) and the embedded server allocated 8.6 GB in 30 s before a
cap stopped it. A session's memory need is now checked against each chosen node's device memory."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from nodes.models import Node, NodeStatus
from training.models import TrainingSession

pytestmark = pytest.mark.django_db
GIB = 1 << 30


@pytest.fixture
def nodes() -> list[Node]:
    return [
        Node.objects.create(id="node_big", status=NodeStatus.ACTIVE, last_seen=timezone.now(), memory_total=80 * GIB),
        Node.objects.create(id="node_small", status=NodeStatus.ACTIVE, last_seen=timezone.now(), memory_total=4 * GIB),
    ]


def _start(client: APIClient, **body: Any) -> Any:
    return client.post("/api/v1/training/start", {"dataset": "builtin:pystdlib", **body}, format="json")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"model_config": {"hidden_size": 16384, "num_layers": 256, "num_heads": 128}}, id="wide"),
        pytest.param({"model_config": {"preset": "default", "seq_len": 65536}, "batch_size": 4096}, id="long"),
    ],
)
def test_a_session_no_node_can_hold_is_refused_with_the_figures(
    staff_client: APIClient, nodes: list[Node], body: dict[str, Any]
) -> None:
    response = _start(staff_client, **body)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["message"] == "VALIDATION_ERROR"
    (message,) = error["detail"]["model_config"]
    assert "node_big has 80.0 GiB; node_small has 4.0 GiB" in message
    assert "choose a smaller model, batch_size or seq_len" in message
    assert not TrainingSession.objects.exists()


def test_a_session_that_fits_one_node_but_not_another_names_the_one_short(
    staff_client: APIClient, nodes: list[Node]
) -> None:
    response = _start(staff_client, model_config={"preset": "default"}, batch_size=256)
    assert response.status_code == 400
    message = response.json()["error"]["detail"]["model_config"][0]
    assert "node_small has 4.0 GiB" in message
    assert "node_big" not in message
    assert (
        _start(staff_client, model_config={"preset": "default"}, batch_size=256, nodes=["node_big"]).status_code == 201
    )


def test_a_node_of_unknown_memory_admits_what_its_request_bounds_allow(staff_client: APIClient) -> None:
    Node.objects.create(id="node_pending", status=NodeStatus.ACTIVE, last_seen=timezone.now())
    response = _start(staff_client, model_config={"preset": "default"}, batch_size=256)
    assert response.status_code == 201, response.json()
