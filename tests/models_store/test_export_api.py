"""GET /api/v1/models/{id}/export?format=hf: a streamed tar of a Hugging Face folder (issue 15)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import torch
import transformers  # the dev extra
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from engine.config import tiny
from engine.export import FILES
from engine.model import build_model
from models_store.models import Checkpoint
from models_store.selectors import checkpoint_path
from tests.support.checkpoints import stored_checkpoint, streamed

pytestmark = pytest.mark.django_db


@pytest.fixture
def model() -> torch.nn.Module:
    return build_model(tiny(), seed=7).eval()


@pytest.fixture
def checkpoint(tmp_path: Path, settings: Settings, model: torch.nn.Module) -> Checkpoint:
    return stored_checkpoint(settings, tmp_path, model.state_dict(), {"round": 1, "model_config": tiny().to_dict()})


def test_the_archive_is_a_folder_transformers_loads(
    member_client: APIClient, checkpoint: Checkpoint, model: torch.nn.Module, tmp_path: Path
) -> None:
    response = member_client.get(f"/api/v1/models/{checkpoint.id}/export", {"format": "hf"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-tar"
    assert response["Content-Disposition"] == f'attachment; filename="{checkpoint.id}-hf.tar"'
    with tarfile.open(fileobj=io.BytesIO(streamed(response))) as archive:
        assert sorted(archive.getnames()) == sorted(FILES)
        archive.extractall(tmp_path / "hf", filter="data")
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    batch = torch.randint(0, 256, (2, 64), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(model(batch)[0], hf(batch).logits, atol=1e-4)


def test_an_unknown_format_is_400_and_an_unknown_model_404(member_client: APIClient, checkpoint: Checkpoint) -> None:
    bad = member_client.get(f"/api/v1/models/{checkpoint.id}/export", {"format": "onnx"})
    assert (bad.status_code, bad.json()["error"]["message"]) == (400, "VALIDATION_ERROR")
    assert "format" in bad.json()["error"]["detail"]
    assert member_client.get("/api/v1/models/model_00000000/export").status_code == 404


def test_a_corrupt_checkpoint_is_not_exported(member_client: APIClient, checkpoint: Checkpoint) -> None:
    path = checkpoint_path(checkpoint)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    response = member_client.get(f"/api/v1/models/{checkpoint.id}/export")
    assert (response.status_code, response.json()["error"]["code"]) == (422, 1004)
