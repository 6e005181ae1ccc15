from __future__ import annotations

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework_simplejwt.authentication import JWTAuthentication

from ncrsh_site.errors import (
    ConsensusFailed,
    ModelCorrupt,
    NetworkPartition,
    NodeNotFound,
    TrainingInProgress,
    exception_handler,
)


@pytest.mark.parametrize(
    ("error", "status", "code", "message"),
    [
        (NodeNotFound, 404, 1001, "NODE_NOT_FOUND"),
        (TrainingInProgress, 409, 1002, "TRAINING_IN_PROGRESS"),
        (ConsensusFailed, 409, 1003, "CONSENSUS_FAILED"),
        (ModelCorrupt, 422, 1004, "MODEL_CORRUPT"),
        (NetworkPartition, 503, 1005, "NETWORK_PARTITION"),
    ],
)
def test_spec_errors_render_their_code_message_and_status(
    error: type[NodeNotFound], status: int, code: int, message: str
) -> None:
    response = exception_handler(error("why it happened"), {"view": None})
    assert response.status_code == status
    assert response.data == {"error": {"code": code, "message": message, "detail": "why it happened"}}


def test_an_unexpected_exception_is_a_500_in_the_error_format() -> None:
    request = APIRequestFactory().get("/")
    response = exception_handler(RuntimeError("boom"), {"view": None, "request": request})
    assert response.status_code == 500
    assert response.data["error"]["message"] == "INTERNAL_ERROR"
    assert "boom" not in str(response.data)


@pytest.mark.django_db
def test_a_database_that_cannot_be_reached_is_a_503_with_retry_after(
    staff_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As seen on an overloaded host: PostgreSQL did not accept a connection within its
    connect timeout while the request authenticated its user."""

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection timeout expired")

    monkeypatch.setattr(JWTAuthentication, "get_user", unreachable)
    response = staff_client.get("/api/v1/nodes")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"] == {
        "code": 503,
        "message": "SERVICE_UNAVAILABLE",
        "detail": "The database is unavailable; try again shortly.",
    }
    monkeypatch.undo()
    assert staff_client.get("/api/v1/nodes").status_code == 200


@pytest.mark.django_db
def test_an_unknown_url_is_a_json_404() -> None:
    response = APIClient().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "NOT_FOUND"


@pytest.mark.django_db
def test_a_wrong_method_is_405(staff_client: APIClient) -> None:
    response = staff_client.put("/api/v1/nodes", {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"] == {
        "code": 405,
        "message": "METHOD_NOT_ALLOWED",
        "detail": 'Method "PUT" not allowed.',
    }


@pytest.mark.django_db
def test_a_form_body_is_415(staff_client: APIClient) -> None:
    response = staff_client.post("/api/v1/nodes", {"config": "x"})
    assert response.status_code == 415
    assert response.json()["error"]["message"] == "UNSUPPORTED_MEDIA_TYPE"
