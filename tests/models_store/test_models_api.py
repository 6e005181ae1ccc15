from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from models_store.models import Checkpoint
from models_store.selectors import checkpoint_path
from tests.support.checkpoints import stored_checkpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoint(tmp_path: Path, settings: Settings) -> Checkpoint:
    return stored_checkpoint(settings, tmp_path, {"w": torch.arange(16.0)}, {"round": 2})


def test_models_are_listed_with_their_hash_and_size(member_client: APIClient, checkpoint: Checkpoint) -> None:
    body = member_client.get("/api/v1/models").json()
    assert body["total"] == 1
    listed = body["models"][0]
    assert listed["id"] == checkpoint.id
    assert listed["id"].startswith("model_")
    assert listed["size"] == checkpoint_path(checkpoint).stat().st_size
    assert len(listed["sha256"]) == 64


def test_loading_a_sound_model_marks_it_for_the_next_session(staff_client: APIClient, checkpoint: Checkpoint) -> None:
    response = staff_client.post("/api/v1/models/load", {"model_id": checkpoint.id}, format="json")
    assert response.status_code == 200
    assert response.json()["loaded"] is True


def test_loading_a_tampered_model_is_422_model_corrupt(staff_client: APIClient, checkpoint: Checkpoint) -> None:
    path = checkpoint_path(checkpoint)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    response = staff_client.post("/api/v1/models/load", {"model_id": checkpoint.id}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == 1004
    assert Checkpoint.objects.get(id=checkpoint.id).loaded_at is None


def test_loading_a_missing_file_is_422_model_corrupt(staff_client: APIClient, checkpoint: Checkpoint) -> None:
    checkpoint_path(checkpoint).unlink()
    response = staff_client.post("/api/v1/models/load", {"model_id": checkpoint.id}, format="json")
    assert (response.status_code, response.json()["error"]["message"]) == (422, "MODEL_CORRUPT")


def test_unknown_models_are_404(staff_client: APIClient) -> None:
    assert staff_client.post("/api/v1/models/load", {"model_id": "model_nope"}, format="json").status_code == 404
    assert staff_client.get("/api/v1/models/model_nope/download").status_code == 404


@pytest.mark.parametrize("action", ["download", "export"])
@pytest.mark.parametrize("accept", ["application/octet-stream", "application/x-tar", "application/json"])
def test_a_file_client_hears_404_in_json_whatever_it_accepts(staff_client: APIClient, action: str, accept: str) -> None:
    # Found by the Postman collection's run: Accept: application/octet-stream was answered 406.
    response = staff_client.get(f"/api/v1/models/model_missing/{action}", HTTP_ACCEPT=accept)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "NOT_FOUND"


def test_saving_without_any_session_is_404(staff_client: APIClient) -> None:
    assert staff_client.post("/api/v1/models/save", {}, format="json").status_code == 404


def test_a_client_cannot_name_a_file(staff_client: APIClient, checkpoint: Checkpoint) -> None:
    response = staff_client.get("/api/v1/models/..%2F..%2Fsecret_key/download")
    assert response.status_code == 404
