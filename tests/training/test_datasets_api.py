"""GET/POST /api/v1/datasets, and sessions that name a prepared dataset or a tokenizer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from engine.data import Corpus
from models_store.dataset_services import auto_name, dataset_claim, dataset_local, dataset_prepare
from models_store.models import Dataset, DatasetStatus
from nodes.models import Node, NodeStatus
from tests.engine.conftest import SHARED_DATA
from training.models import TrainingSession

pytestmark = pytest.mark.django_db
URL = "/api/v1/datasets"
WIKI = "file:wikitext-2/valid.txt"


@pytest.fixture(autouse=True)
def _folders(settings: Settings, tmp_path: Path) -> None:
    settings.DATASETS_DIR = tmp_path / "datasets"
    settings.DATA_ROOTS = [SHARED_DATA]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The preparations sent to a worker (run below with dataset_prepare, as the worker would)."""
    names: list[str] = []
    monkeypatch.setattr("training.dataset_api.dispatch_prepare", names.append)
    return names


def prepared(name: str, tokenizer: str = "byte", vocab_size: int | None = None) -> Dataset:
    dataset_claim(name=name, source=WIKI, tokenizer=tokenizer, vocab_size=vocab_size)
    return dataset_prepare(name=name)


def test_staff_prepare_a_dataset_on_a_worker_and_everyone_lists_it_once_ready(
    staff_client: APIClient, member_client: APIClient, sent: list[str], settings: Settings
) -> None:
    response = staff_client.post(
        URL, {"name": "wiki", "source": WIKI, "tokenizer": "bpe", "vocab_size": 512}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "preparing"
    assert sent == ["wiki"]
    assert member_client.get(URL).json()["datasets"] == []  # not listed while being prepared
    dataset_prepare(name="wiki")
    body = member_client.get(URL).json()
    assert body["total"] == 1
    (wiki,) = body["datasets"]
    assert wiki["status"] == "ready"
    assert wiki["tokenizer"] == "bpe"
    assert 257 <= wiki["vocab_size"] <= 512
    assert wiki["train_tokens"] + wiki["val_tokens"] == wiki["tokens"]
    assert wiki["bytes"] == SHARED_DATA.joinpath("wikitext-2", "valid.txt").stat().st_size
    assert wiki["tokens"] < wiki["bytes"] / 2  # a BPE's tokens are several bytes each
    assert (settings.DATASETS_DIR / "wiki" / "tokenizer.json").is_file()
    again = staff_client.post(
        URL, {"name": "wiki", "source": WIKI, "tokenizer": "bpe", "vocab_size": 512}, format="json"
    )
    assert again.status_code == 200  # the same request: nothing to do
    assert sent == ["wiki"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "source": WIKI, "tokenizer": "sentencepiece"}, "tokenizer"),
        ({"name": "../x", "source": WIKI}, "name"),
        ({"name": "x", "source": "s3:bucket"}, "source"),
        ({"name": "x", "source": WIKI, "vocab_size": 1000}, "vocab_size"),
        ({"name": "x", "source": WIKI, "color": "red"}, "color"),
    ],
)
def test_a_bad_request_names_its_field(
    staff_client: APIClient, sent: list[str], body: dict[str, Any], field: str
) -> None:
    response = staff_client.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"] == "VALIDATION_ERROR"
    assert field in response.json()["error"]["detail"]
    assert sent == []
    assert not Dataset.objects.exists()


def test_members_cannot_prepare_and_a_taken_name_is_a_conflict(
    staff_client: APIClient, member_client: APIClient, sent: list[str]
) -> None:
    assert member_client.post(URL, {"name": "x", "source": WIKI}, format="json").status_code == 403
    prepared("wiki")
    response = staff_client.post(URL, {"name": "wiki", "source": "builtin:pystdlib"}, format="json")
    assert response.status_code == 409
    assert "already prepared" in response.json()["error"]["detail"]
    assert staff_client.get(f"{URL}/nope").status_code == 404
    assert staff_client.get(f"{URL}/wiki").json()["source"] == WIKI


def test_a_preparation_that_fails_records_why_and_is_not_listed(staff_client: APIClient, sent: list[str]) -> None:
    assert staff_client.post(URL, {"name": "gone", "source": "file:no-such-file.txt"}, format="json").status_code == 202
    with pytest.raises(Exception, match="no file matches"):
        dataset_prepare(name="gone")
    row = staff_client.get(f"{URL}/gone").json()
    assert row["status"] == "failed"
    assert "no file matches" in row["error"]
    assert staff_client.get(URL).json()["total"] == 0
    # A failed name may be prepared again.
    assert staff_client.post(URL, {"name": "gone", "source": WIKI}, format="json").status_code == 202


def test_an_abandoned_preparation_can_be_taken_over() -> None:
    row, mine = dataset_claim(name="d", source=WIKI, tokenizer="byte", vocab_size=None)
    assert mine
    assert dataset_claim(name="d", source=WIKI, tokenizer="byte", vocab_size=None) == (row, False)
    Dataset.objects.filter(name="d").update(updated_at=timezone.now() - timedelta(hours=1))
    assert dataset_claim(name="d", source=WIKI, tokenizer="byte", vocab_size=None)[1]


def test_a_raw_spec_is_prepared_on_first_use_once_and_its_shards_again_where_missing(settings: Settings) -> None:
    folder = dataset_local(dataset=WIKI, tokenizer="bpe", vocab_size=400)
    name = auto_name(WIKI, "bpe", 400)
    assert folder == settings.DATASETS_DIR / name
    row = Dataset.objects.get(name=name)
    assert row.status == DatasetStatus.READY
    first = Corpus.open(folder)
    stamp = (folder / "manifest.json").stat().st_mtime_ns
    assert dataset_local(dataset=WIKI, tokenizer="bpe", vocab_size=400) == folder
    assert (folder / "manifest.json").stat().st_mtime_ns == stamp  # reused, not prepared again
    # Another host: the registry has it, the disk does not. The same tokenizer, the same tokens.
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    again = Corpus.open(dataset_local(dataset=name))
    assert again.tokenizer.sha256 == first.tokenizer.sha256
    assert again.train.read(0, 1000).tolist() == first.train.read(0, 1000).tolist()


@pytest.fixture
def two_nodes() -> list[str]:
    return [Node.objects.create(status=NodeStatus.ACTIVE, last_seen=timezone.now()).id for _ in range(2)]


def start(client: APIClient, **body: Any) -> Any:
    return client.post("/api/v1/training/start", {"max_steps": 10, **body}, format="json")


def test_a_session_on_a_prepared_dataset_takes_its_tokenizer_and_vocab(
    staff_client: APIClient, two_nodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("training.api.dispatch_run", lambda session, node: None)
    wiki = prepared("wiki", tokenizer="bpe", vocab_size=700)
    response = start(staff_client, dataset="wiki")
    assert response.status_code == 201, response.content
    plan = TrainingSession.objects.get().plan
    assert plan.tokenizer == "bpe"
    assert plan.model.vocab_size == wiki.vocab_size


@pytest.mark.parametrize(
    ("body", "vocab"),
    [({"tokenizer": "byte"}, 256), ({"tokenizer": "bpe"}, 4096), ({"tokenizer": "bpe", "vocab_size": 1000}, 1000)],
)
def test_a_session_on_a_raw_spec_sizes_the_model_for_its_tokenizer(
    staff_client: APIClient, two_nodes: list[str], monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], vocab: int
) -> None:
    monkeypatch.setattr("training.api.dispatch_run", lambda session, node: None)
    response = start(staff_client, dataset=WIKI, **body)
    assert response.status_code == 201, response.content
    assert TrainingSession.objects.get().plan.model.vocab_size == vocab


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"dataset": WIKI, "tokenizer": "hf:acme/absent"}, "tokenizer", "nothing is downloaded"),
        ({"dataset": WIKI, "tokenizer": "wordpiece"}, "tokenizer", "unknown tokenizer"),
        ({"dataset": "not-prepared"}, "dataset", "no folder"),
    ],
)
def test_a_session_with_an_unusable_tokenizer_or_dataset_is_refused(
    staff_client: APIClient, two_nodes: list[str], body: dict[str, Any], field: str, says: str
) -> None:
    response = start(staff_client, **body)
    assert response.status_code == 400, response.content
    assert says in str(response.json()["error"]["detail"][field])
    assert not TrainingSession.objects.exists()
