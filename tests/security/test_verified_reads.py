"""Files are checked before they are served (issue 17): on main at dabd97c the model download
streamed whatever lay on disk under the recorded hash; a replaced checkpoint was served as valid
and a truncated one hung the client (its Content-Length promised more)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from models_store.models import Checkpoint
from models_store.selectors import checkpoint_path
from tests.support.checkpoints import stored_checkpoint, streamed

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoint(tmp_path: Path, settings: Settings) -> Checkpoint:
    return stored_checkpoint(settings, tmp_path, {"w": torch.arange(4096.0)}, {"round": 1})


def _download(client: APIClient, checkpoint: Checkpoint) -> Any:
    return client.get(f"/api/v1/models/{checkpoint.id}/download")


def test_a_sound_checkpoint_is_served_whole(member_client: APIClient, checkpoint: Checkpoint) -> None:
    response = _download(member_client, checkpoint)
    assert response.status_code == 200
    body = streamed(response)
    assert len(body) == int(response["Content-Length"]) == checkpoint.size
    assert hashlib.sha256(body).hexdigest() == checkpoint.sha256


def _replace_same_size(path: Path) -> str:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    return "does not match the recorded"


def _truncate(path: Path) -> str:
    path.write_bytes(path.read_bytes()[:100])
    return "100 bytes on disk"


def _symlink(path: Path) -> str:
    # Even to a file with the very same bytes: the store serves its own files only.
    twin = path.with_name("elsewhere.bin")
    path.rename(twin)
    path.symlink_to(twin)
    return "it is a symlink"


def _folder(path: Path) -> str:
    path.unlink()
    path.mkdir()
    return "unreadable"


@pytest.mark.parametrize("damage", [_replace_same_size, _truncate, _symlink, _folder])
def test_a_damaged_or_replaced_checkpoint_is_never_served(
    member_client: APIClient, checkpoint: Checkpoint, damage: Any
) -> None:
    expected = damage(checkpoint_path(checkpoint))
    response = _download(member_client, checkpoint)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (1004, "MODEL_CORRUPT")
    assert expected in error["detail"]
    assert str(checkpoint_path(checkpoint).parent) not in error["detail"]  # no server path


def test_loading_follows_the_same_checks(staff_client: APIClient, checkpoint: Checkpoint) -> None:
    _symlink(checkpoint_path(checkpoint))
    response = staff_client.post("/api/v1/models/load", {"model_id": checkpoint.id}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (422, 1004)
    assert Checkpoint.objects.get(id=checkpoint.id).loaded_at is None
