from __future__ import annotations

from typing import Any

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from nodes.models import Node

pytestmark = pytest.mark.django_db
URL = "/api/v1/nodes"
SPEC_BODY = {
    "config": {
        "model_config": {"hidden_size": 512, "num_layers": 6, "num_heads": 8},
        "network_config": {"port": 8080, "max_peers": 10},
    }
}


def test_staff_creates_a_pending_node_with_the_spec_body(staff_client: APIClient, settings: Settings) -> None:
    settings.EMBEDDED = False  # fleet: the node waits for `ncrsh worker --node <id>`
    response = staff_client.post(URL, SPEC_BODY, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert body["config"] == SPEC_BODY["config"]
    assert body["address"] is None
    assert body["last_seen"] is None
    assert Node.objects.get(id=body["id"]).config == SPEC_BODY["config"]


def test_in_the_embedded_mode_a_new_node_is_a_live_local_node(staff_client: APIClient, settings: Settings) -> None:
    settings.EMBEDDED = True
    body = staff_client.post(URL, SPEC_BODY, format="json").json()
    assert body["status"] == "active"
    assert body["address"].endswith("/local")
    assert body["last_seen"] is not None


def test_missing_config_sections_take_the_defaults(staff_client: APIClient) -> None:
    body = staff_client.post(URL, {"config": {"model_config": {"num_layers": 2}}}, format="json").json()
    assert body["config"] == {
        "model_config": {"hidden_size": 512, "num_layers": 2, "num_heads": 8},
        "network_config": {"port": 8080, "max_peers": 10},
    }
    assert staff_client.post(URL, {}, format="json").json()["config"] == SPEC_BODY["config"]


@pytest.mark.parametrize(
    ("config", "field_path"),
    [
        ({"model_config": {"hidden_size": 510, "num_heads": 8}}, ("model_config", "hidden_size")),
        ({"model_config": {"num_layers": 0}}, ("model_config", "num_layers")),
        ({"model_config": {"num_heads": "many"}}, ("model_config", "num_heads")),
        ({"network_config": {"port": 0}}, ("network_config", "port")),
        ({"network_config": {"port": 65536}}, ("network_config", "port")),
        ({"network_config": {"max_peers": 0}}, ("network_config", "max_peers")),
        ({"network_config": {"prot": 8080}}, ("network_config", "prot")),
    ],
)
def test_bad_config_names_the_field(
    staff_client: APIClient, config: dict[str, Any], field_path: tuple[str, str]
) -> None:
    response = staff_client.post(URL, {"config": config}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "VALIDATION_ERROR"
    section, field = field_path
    assert field in error["detail"]["config"][section]
    assert Node.objects.count() == 0


def test_malformed_json_is_a_parse_error(staff_client: APIClient) -> None:
    response = staff_client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "PARSE_ERROR"


def test_a_non_staff_user_may_not_create_nodes(member_client: APIClient) -> None:
    response = member_client.post(URL, SPEC_BODY, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "PERMISSION_DENIED"
    assert Node.objects.count() == 0
