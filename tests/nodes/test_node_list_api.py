from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from nodes.models import Node, NodeStatus

pytestmark = pytest.mark.django_db
URL = "/api/v1/nodes"


def test_it_lists_no_nodes_in_the_spec_shape(member_client: APIClient) -> None:
    body = member_client.get(URL).json()
    assert {k: body[k] for k in ("nodes", "total", "active")} == {"nodes": [], "total": 0, "active": 0}


def test_each_node_has_exactly_the_spec_fields(member_client: APIClient) -> None:
    Node.objects.create(
        id="node_123abc",
        address="192.168.1.100:8080",
        status=NodeStatus.ACTIVE,
        model_hash="sha256:def456",
        last_seen=datetime(2025, 5, 31, 4, 30, tzinfo=UTC),
        training_speed=0.95,
        memory_usage=0.67,
        network_latency=15.2,
    )
    body = member_client.get(URL).json()
    assert body["total"] == 1
    assert body["active"] == 1
    assert body["nodes"] == [
        {
            "id": "node_123abc",
            "address": "192.168.1.100:8080",
            "status": "active",
            "model_hash": "sha256:def456",
            "last_seen": "2025-05-31T04:30:00Z",
            "performance": {"training_speed": 0.95, "memory_usage": 0.67, "network_latency": 15.2},
        }
    ]


def test_new_node_ids_are_prefixed_hex() -> None:
    assert re.fullmatch(r"node_[0-9a-f]{8}", Node.objects.create().id)


def test_active_counts_every_alive_status(member_client: APIClient) -> None:
    for status in NodeStatus.values:
        Node.objects.create(status=status)
    body = member_client.get(URL).json()
    assert body["total"] == len(NodeStatus.values)
    assert body["active"] == 3  # active, training, idle


def test_it_filters_by_one_or_several_statuses(member_client: APIClient) -> None:
    for status in ("active", "training", "offline", "offline"):
        Node.objects.create(status=status)
    assert member_client.get(URL, {"status": "offline"}).json()["total"] == 2
    body = member_client.get(URL, {"status": "active,training"}).json()
    assert sorted(n["status"] for n in body["nodes"]) == ["active", "training"]
    assert body["active"] == 2


def test_an_unknown_status_filter_is_a_validation_error(member_client: APIClient) -> None:
    response = member_client.get(URL, {"status": "asleep"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["message"] == "VALIDATION_ERROR"
    assert "comma-separated list of pending, active" in error["detail"]["status"][0]


def test_pagination_keeps_the_spec_keys_and_links_pages(member_client: APIClient) -> None:
    ids = [Node.objects.create().id for _ in range(5)]
    first = member_client.get(URL, {"limit": 2}).json()
    assert [n["id"] for n in first["nodes"]] == ids[:2]
    assert (first["total"], first["previous"]) == (5, None)
    second = member_client.get(first["next"]).json()
    assert [n["id"] for n in second["nodes"]] == ids[2:4]
    last = member_client.get(second["next"]).json()
    assert [n["id"] for n in last["nodes"]] == ids[4:]
    assert last["next"] is None
    assert "offset=2" in last["previous"]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"offset": "-1"},
        {"offset": str(2**31)},
        {"limit": "ten"},
        {"limit": ""},
        {"status": "active,"},
    ],
)
def test_bad_pagination_is_rejected(member_client: APIClient, query: dict[str, str]) -> None:
    response = member_client.get(URL, query)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "VALIDATION_ERROR"


def test_listing_without_a_token_is_401_in_the_error_format() -> None:
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"] == {
        "code": 401,
        "message": "NOT_AUTHENTICATED",
        "detail": "Authentication credentials were not provided.",
    }


def test_unknown_query_parameters_such_as_format_are_ignored(member_client: APIClient) -> None:
    assert member_client.get(URL, {"format": "json", "utm": "x"}).status_code == 200
