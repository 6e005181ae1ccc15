"""Bounded inputs (issue 17): each of the malformed bodies and ids that answered 500 on main at
dabd97c now gets a clear 4xx in the error format, and nothing is written."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from consensus.models import Vote
from ncrsh_site.parsers import MAX_JSON_DEPTH
from training.models import TrainingSession


def _post_raw(client: APIClient, path: str, body: str) -> tuple[int, dict]:
    response = client.generic("POST", path, body, content_type="application/json")
    return response.status_code, response.json()


@pytest.mark.django_db
def test_a_body_over_the_limit_is_413_and_starts_nothing(staff_client: APIClient) -> None:
    body = json.dumps({"nodes": ["n"], "dataset": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    status, payload = _post_raw(staff_client, "/api/v1/training/start", body)
    assert status == 413
    assert payload["error"]["code"] == 413
    assert payload["error"]["message"] == "PAYLOAD_TOO_LARGE"
    assert not TrainingSession.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/training/start", "/api/v1/consensus/vote"])
def test_json_nested_100k_deep_is_a_400_parse_error(staff_client: APIClient, path: str) -> None:
    status, payload = _post_raw(staff_client, path, "[" * 100_000 + "]" * 100_000)
    assert status == 400
    assert payload["error"]["message"] == "PARSE_ERROR"
    assert f"deeper than {MAX_JSON_DEPTH}" in payload["error"]["detail"]
    assert not TrainingSession.objects.exists()
    assert not Vote.objects.exists()


@pytest.mark.django_db
def test_brackets_inside_strings_do_not_count_as_nesting(staff_client: APIClient) -> None:
    """A deep-looking string is data, not depth: the body is parsed and validated as usual."""
    body = json.dumps({"proposal_id": "[" * 500, "approve": True})
    status, payload = _post_raw(staff_client, "/api/v1/consensus/vote", body)
    assert status == 400  # the id is longer than any id: a validation error, not a parse error
    assert payload["error"]["message"] == "VALIDATION_ERROR"


@pytest.mark.django_db
@pytest.mark.parametrize("digits", [20, 5000])
def test_an_enormous_round_number_in_an_id_is_not_found(staff_client: APIClient, digits: int) -> None:
    number = "9" * digits
    for body in (
        {"proposal_id": f"proposal_abcd1234_{number}_node_a", "approve": True},
        {"round_id": f"round_abcd1234_{number}", "node_id": "node_a", "approve": False},
    ):
        response = staff_client.post("/api/v1/consensus/vote", body, format="json")
        if digits > 100:  # longer than any id: refused before any lookup
            assert response.status_code == 400, response.content
        else:
            assert response.status_code == 404, response.content
            assert response.json()["error"]["message"] == "NOT_FOUND"
    assert not Vote.objects.exists()


@pytest.mark.django_db
def test_nan_is_not_json(staff_client: APIClient) -> None:
    status, payload = _post_raw(staff_client, "/api/v1/consensus/vote", '{"approve": NaN}')
    assert status == 400
    assert payload["error"]["message"] == "PARSE_ERROR"


@pytest.mark.parametrize(
    "url",
    ["/api/v1/consensus/history", "/api/v1/nodes", "/api/v1/network/topology", "/api/v1/models/model_x/export"],
)
def test_a_repeated_query_parameter_is_400_not_a_silent_pick(member_client: APIClient, url: str) -> None:
    # Schemathesis (2026-11-27): ?offset=<junk>&offset=0 was answered 200 with the last value.
    name = {"consensus": "offset", "nodes": "offset", "network": "session", "models": "format"}[url.split("/")[3]]
    response = member_client.get(f"{url}?{name}=junk&{name}=0")
    assert response.status_code == 400
    assert response.json()["error"]["detail"] == {name: ["Give it once."]}


def test_a_number_for_a_string_field_is_400_not_its_text(staff_client: APIClient) -> None:
    # Schemathesis (2026-11-27): {"name": 0.0} made a dataset named "0.0" (202).
    response = staff_client.post("/api/v1/datasets", {"name": 0.0, "source": "builtin:pystdlib"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["detail"] == {"name": ["Not a string."]}
