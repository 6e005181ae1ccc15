"""Preparing datasets: claim a name, tokenise the source into shards, register the result.

``dataset_claim`` (any process, under a row lock, no I/O) then ``dataset_prepare`` (the process
that does the work: the CLI, or a worker for the API's request). A host that lacks a ready
dataset's shards prepares them from the registry on first use (``dataset_local``), under a file
lock so the nodes of one host do it once. No torch here.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.datasets import check_spec, iter_texts
from engine.errors import DatasetUnavailable, EngineError, TokenizerUnavailable
from engine.shards import MANIFEST, Progress, check_name, prepare, read_manifest, train_texts
from engine.tokenizer import DEFAULT_BPE_VOCAB, Tokenizer, check_tokenizer_spec, load_tokenizer, train_bpe
from models_store.models import Dataset, DatasetStatus
from ncrsh_site.errors import Conflict, Invalid
from ncrsh_site.events import publish, publish_on_commit

logger = logging.getLogger(__name__)

# A preparation reports at least this often; one silent for STALE_AFTER_S was abandoned (its
# process died) and the name may be claimed again.
REPORT_EVERY_S = 1.0
STALE_AFTER_S = 120.0


def check_request(*, name: str | None, source: str, tokenizer: str, vocab_size: int | None) -> None:
    """Every field's syntax at once, as one ``Invalid``."""
    fields: dict[str, list[str]] = {}
    for field, check in (
        ("name", lambda: check_name(name) if name is not None else None),
        ("source", lambda: check_spec(source)),
        ("tokenizer", lambda: check_tokenizer_spec(tokenizer)),
    ):
        try:
            check()
        except EngineError as exc:
            fields[field] = [str(exc)]
    if vocab_size is not None and tokenizer != "bpe":
        fields["vocab_size"] = ["only a bpe tokenizer is trained to a vocab_size"]
    if fields:
        raise Invalid(fields)


def auto_name(source: str, tokenizer: str, vocab_size: int | None) -> str:
    """The name under which a raw spec is prepared on first use."""
    digest = hashlib.sha256(f"{source}\n{tokenizer}\n{vocab_size}".encode()).hexdigest()
    return f"auto-{digest[:16]}"


@transaction.atomic
def dataset_claim(*, name: str, source: str, tokenizer: str, vocab_size: int | None) -> tuple[Dataset, bool]:
    """The row for ``name``, and whether this caller now prepares it. A ready dataset with the same
    source and tokenizer is returned as is; one with others, or one still being prepared
    elsewhere, is a conflict; a failed or abandoned one is taken over."""
    check_request(name=name, source=source, tokenizer=tokenizer, vocab_size=vocab_size)
    if tokenizer == "bpe":
        vocab_size = vocab_size or DEFAULT_BPE_VOCAB
    row = Dataset.objects.select_for_update().filter(name=name).first()
    if row is not None:
        same = (row.source, row.tokenizer, row.vocab_size if tokenizer == "bpe" else None) == (
            source,
            tokenizer,
            vocab_size,
        )
        abandoned = row.updated_at < timezone.now() - timedelta(seconds=STALE_AFTER_S)
        if row.status == DatasetStatus.READY and same:
            return row, False
        if row.status == DatasetStatus.READY:
            raise Conflict(f"{name} is already prepared from {row.source} with {row.tokenizer}: choose another name")
        if row.status == DatasetStatus.PREPARING and not abandoned:
            if same:
                return row, False
            raise Conflict(f"{name} is being prepared from {row.source} with {row.tokenizer}: choose another name")
    row, _ = Dataset.objects.update_or_create(
        name=name,
        defaults={
            "source": source,
            "tokenizer": tokenizer,
            "vocab_size": vocab_size,
            "status": DatasetStatus.PREPARING,
            "tokens": 0,
            "bytes": 0,
            "manifest": {},
            "tokenizer_json": "",
            "error": "",
            "finished_at": None,
        },
    )
    return row, True


def _tokenizer(row: Dataset) -> Tokenizer:
    if row.tokenizer_json or row.tokenizer == "byte":
        return Tokenizer.from_json(row.tokenizer, row.tokenizer_json or None)
    if row.tokenizer == "bpe":
        source = iter_texts(row.source, data_roots=settings.DATA_ROOTS, data_dir=settings.DATA_DIR)
        return train_bpe(train_texts(source), vocab_size=row.vocab_size or DEFAULT_BPE_VOCAB)
    return load_tokenizer(row.tokenizer, data_roots=[*settings.DATA_ROOTS, settings.DATA_DIR])


def _build(row: Dataset, root: Path, report: Callable[[Progress], None]) -> dict[str, Any]:
    tokenizer = _tokenizer(row)
    if not row.tokenizer_json and tokenizer.json is not None:
        row.tokenizer_json, row.vocab_size = tokenizer.json, tokenizer.vocab_size
        Dataset.objects.filter(name=row.name).update(tokenizer_json=row.tokenizer_json, vocab_size=row.vocab_size)
    texts = iter_texts(row.source, data_roots=settings.DATA_ROOTS, data_dir=settings.DATA_DIR)
    return prepare(texts, tokenizer=tokenizer, root=root, name=row.name, source=row.source, progress=report)


def dataset_prepare(*, name: str, progress: Callable[[Progress], None] | None = None) -> Dataset:
    """Prepare the claimed dataset ``name`` in this process: its shards into DATASETS_DIR, its
    progress on the event feed (``dataset_progress``) and to ``progress``; ``dataset_prepared``
    when it ends, ready or failed (the error in the row and the event)."""
    row = Dataset.objects.get(name=name)
    # Shards of this name left by an earlier registry (this claim is new): not this dataset's.
    shutil.rmtree(settings.DATASETS_DIR / name, ignore_errors=True)
    last = 0.0

    def report(done: Progress) -> None:
        nonlocal last
        if progress is not None:
            progress(done)
        if time.monotonic() - last >= REPORT_EVERY_S:
            last = time.monotonic()
            Dataset.objects.filter(name=name).update(tokens=done.tokens, bytes=done.bytes, updated_at=timezone.now())
            publish(
                "dataset_progress",
                {"name": name, "tokens": done.tokens, "bytes": done.bytes, "tokens_per_s": done.tokens_per_s},
            )

    try:
        manifest = _build(row, settings.DATASETS_DIR, report)
    except EngineError as exc:
        failed = Dataset.objects.filter(name=name)
        failed.update(status=DatasetStatus.FAILED, error=str(exc), finished_at=timezone.now())
        publish("dataset_prepared", {"name": name, "status": DatasetStatus.FAILED, "error": str(exc)})
        raise
    row.refresh_from_db()
    row.status, row.manifest, row.finished_at = DatasetStatus.READY, manifest, timezone.now()
    row.tokens = manifest["train"]["tokens"] + manifest["val"]["tokens"]
    row.bytes = manifest["train"]["bytes"] + manifest["val"]["bytes"]
    row.vocab_size = manifest["tokenizer"]["vocab_size"]
    row.save()
    publish_on_commit("dataset_prepared", {"name": name, "status": row.status, "tokens": row.tokens, "error": ""})
    return row


def _wait_ready(name: str, *, poll_s: float = 1.0) -> Dataset:
    """A dataset being prepared elsewhere, once it is ready (or why it is not)."""
    while True:
        row = Dataset.objects.get(name=name)
        if row.status == DatasetStatus.READY:
            return row
        if row.status == DatasetStatus.FAILED:
            raise DatasetUnavailable(f"{name}: its preparation failed: {row.error}")
        if row.updated_at < timezone.now() - timedelta(seconds=STALE_AFTER_S):
            raise DatasetUnavailable(f"{name}: its preparation stopped reporting (its process died?)")
        time.sleep(poll_s)


@contextmanager
def _host_lock(name: str) -> Iterator[None]:
    settings.DATASETS_DIR.mkdir(parents=True, exist_ok=True)
    with (settings.DATASETS_DIR / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def dataset_local(*, dataset: str, tokenizer: str = "byte", vocab_size: int | None = None) -> Path:
    """The folder of this host's shards for a session's dataset: a prepared dataset by name, or a
    raw spec prepared on first use (under ``auto_name``). Whatever is missing here is prepared
    now, once per host (the other nodes of the host wait for it)."""
    row = Dataset.objects.filter(name=dataset, status=DatasetStatus.READY).first()
    name = dataset if row is not None else auto_name(dataset, tokenizer, vocab_size)
    with _host_lock(name):
        if row is None:
            row, mine = dataset_claim(name=name, source=dataset, tokenizer=tokenizer, vocab_size=vocab_size)
            row = dataset_prepare(name=name) if mine else _wait_ready(name)
        folder = settings.DATASETS_DIR / name
        if (folder / MANIFEST).exists():
            if read_manifest(folder)["tokenizer"]["sha256"] == row.manifest["tokenizer"]["sha256"]:
                return folder
            raise DatasetUnavailable(f"{name}: this host's shards were made with another tokenizer; remove them")
        logger.info("dataset %s is not on this host: preparing it from %s", name, row.source)
        _build(row, settings.DATASETS_DIR, lambda done: None)
        return folder


def session_vocab(*, dataset: str, tokenizer: str, vocab_size: int | None) -> tuple[str, int]:
    """The tokenizer a session trains with and the model's vocab size, in the web request: a
    prepared dataset's own; else the requested one's (a pretrained one is read here, which is
    cheap; a bpe is trained by the nodes, to ``vocab_size``)."""
    row = Dataset.objects.filter(name=dataset).first()
    if row is not None and row.status == DatasetStatus.READY:
        if tokenizer not in ("byte", row.tokenizer):
            raise Invalid({"tokenizer": [f"{dataset} is prepared with {row.tokenizer}"]})
        return row.tokenizer, int(row.vocab_size or 256)
    check_request(name=None, source=dataset, tokenizer=tokenizer, vocab_size=vocab_size)
    if tokenizer == "bpe":
        return tokenizer, vocab_size or DEFAULT_BPE_VOCAB
    try:
        return tokenizer, load_tokenizer(tokenizer, data_roots=[*settings.DATA_ROOTS, settings.DATA_DIR]).vocab_size
    except TokenizerUnavailable as exc:
        raise Invalid({"tokenizer": [str(exc)]}) from None


def dataset_request(
    *, name: str, source: str, tokenizer: str = "byte", vocab_size: int | None = None, dispatch: Callable[[str], None]
) -> tuple[Dataset, bool]:
    """The API's request: claim ``name`` and send its preparation to a worker; a dataset already
    prepared (or being prepared) the same way is returned with False."""
    row, mine = dataset_claim(name=name, source=source, tokenizer=tokenizer, vocab_size=vocab_size)
    if mine:
        try:
            dispatch(name)
        except Exception as exc:
            Dataset.objects.filter(name=name).update(status=DatasetStatus.FAILED, error=str(exc))
            raise
    return row, mine
