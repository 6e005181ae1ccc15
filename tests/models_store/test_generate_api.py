"""POST /api/v1/models/{id}/generate: a look at what a model learned (issue 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from engine.config import tiny
from engine.model import build_model
from engine.sample import generate
from models_store.models import Checkpoint
from tests.support.checkpoints import stored_checkpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoint(tmp_path: Path, settings: Settings) -> Checkpoint:
    return stored_checkpoint(
        settings, tmp_path, build_model(tiny(), seed=1).state_dict(), {"model_config": tiny().to_dict()}
    )


def _generate(client: APIClient, model_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/models/{model_id}/generate", body, format="json")


def test_fifty_tokens_reproducible_with_a_seed(member_client: APIClient, checkpoint: Checkpoint) -> None:
    response = _generate(member_client, checkpoint.id, prompt="The ", max_new_tokens=50, temperature=0.8, seed=3)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["model_id"], body["prompt"], body["tokens"]) == (checkpoint.id, "The ", 50)
    assert body["completion"]  # 50 bytes, decoded (invalid UTF-8 replaced)
    again = _generate(member_client, checkpoint.id, prompt="The ", max_new_tokens=50, temperature=0.8, seed=3)
    assert again.json()["completion"] == body["completion"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_new_tokens": -5}, "max_new_tokens"),
        ({"max_new_tokens": 10**6}, "max_new_tokens"),
        ({"temperature": -1}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"prompt": "x" * 10_001}, "prompt"),
        ({"max_tokens": 5}, "max_tokens"),  # not a field of this API
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    member_client: APIClient, checkpoint: Checkpoint, body: dict[str, Any], field: str
) -> None:
    response = _generate(member_client, checkpoint.id, **body)
    assert response.status_code == 400
    assert field in response.json()["error"]["detail"]


def test_an_unknown_model_is_404(member_client: APIClient) -> None:
    response = _generate(member_client, "model_00000000", prompt="hi")
    assert (response.status_code, response.json()["error"]["message"]) == (404, "NOT_FOUND")


def test_greedy_sampling_follows_the_argmax_and_top_k_1_is_greedy() -> None:
    model = build_model(tiny(), seed=2)
    greedy = generate(model, [65, 66], max_new_tokens=8, temperature=0)
    with torch.no_grad():
        first = int(model(torch.tensor([[65, 66]]))[0][0, -1].argmax())
    assert greedy[0] == first
    assert generate(model, [65, 66], max_new_tokens=8, temperature=1.0, top_k=1, seed=9) == greedy
    long = generate(model, list(range(100)), max_new_tokens=3, temperature=0)  # past seq_len 64: cropped
    assert len(long) == 3
