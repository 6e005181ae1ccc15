from __future__ import annotations

import errno
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.export import export_hf
from engine.files import file_sha256, read_metadata, stream_sha256
from models_store.models import Checkpoint, new_model_id
from models_store.selectors import checkpoint_get, checkpoint_path
from ncrsh_site.errors import ModelCorrupt


def snapshot_path(session_id: str, node_id: str) -> Path:
    """Where a node keeps the session's latest global state between rounds (not a registered
    model). Every node writes its own, so the state survives the loss of any of them."""
    return settings.CHECKPOINT_DIR / "sessions" / f"{session_id}.{node_id}.latest.safetensors"


def snapshot_latest(session_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The most advanced snapshot of a session (the highest round), with its metadata."""
    best: tuple[Path, dict[str, Any]] | None = None
    for path in (settings.CHECKPOINT_DIR / "sessions").glob(f"{session_id}.*.latest.safetensors"):
        try:
            metadata = read_metadata(path)
        except (OSError, ValueError):
            continue  # being replaced right now, or unreadable: another one will do
        if best is None or int(metadata.get("round", 0)) > int(best[1].get("round", 0)):
            best = (path, metadata)
    return best


def snapshots_prune(session_id: str, *, keep_latest: bool) -> int:
    """Retention, once a session has ended: its per-node snapshots go (they served resumption),
    all of them when the session registered its final model, all but the most advanced one
    otherwise (then the only copy of its last global model, which POST /models/save registers).
    Returns how many files were deleted."""
    latest = snapshot_latest(session_id) if keep_latest else None
    deleted = 0
    for path in (settings.CHECKPOINT_DIR / "sessions").glob(f"{session_id}.*.latest.safetensors"):
        if latest is None or path != latest[0]:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


@transaction.atomic
def checkpoint_register(
    *,
    source: Path,
    session_id: str | None,
    round_index: int,
    step: int,
    model_hash: str,
    metrics: dict[str, Any],
    model_config: dict[str, Any],
) -> Checkpoint:
    """Copy ``source`` into the store under a name of ours, hash it, and record it."""
    model_id = new_model_id()
    filename = f"{model_id}.safetensors"
    target = settings.CHECKPOINT_DIR / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    shutil.copyfile(source, temporary)
    temporary.replace(target)
    return Checkpoint.objects.create(
        id=model_id,
        session_id=session_id,
        round=round_index,
        step=step,
        filename=filename,
        size=target.stat().st_size,
        sha256=file_sha256(target),
        model_hash=model_hash,
        metrics=metrics,
        model_config=model_config,
    )


def checkpoint_open(*, checkpoint: Checkpoint) -> BinaryIO:
    """The checkpoint's file, open at its start, once it is known to hold the bytes recorded:
    a regular file in the store's own folder (a symlink is refused), of the recorded size, whose
    sha256 (streamed) is the recorded one; else MODEL_CORRUPT (1004). Reading from this handle
    serves exactly what was checked, even if the path is replaced meanwhile."""
    try:
        handle = os.fdopen(os.open(checkpoint_path(checkpoint), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb")
    except OSError as exc:
        reason = "it is a symlink" if exc.errno == errno.ELOOP else exc.strerror
        raise ModelCorrupt(f"{checkpoint.id}: the file is unreadable: {reason}") from None
    try:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ModelCorrupt(f"{checkpoint.id}: the stored entry is not a regular file")
        if info.st_size != checkpoint.size:
            raise ModelCorrupt(f"{checkpoint.id}: {info.st_size} bytes on disk, {checkpoint.size} recorded")
        actual = stream_sha256(handle)
        if actual != checkpoint.sha256:
            raise ModelCorrupt(f"{checkpoint.id}: sha256 {actual} does not match the recorded {checkpoint.sha256}")
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


EXPORT_FORMATS = ("hf",)


def checkpoint_export(*, checkpoint: Checkpoint, into: Path) -> list[Path]:
    """The checkpoint as a Hugging Face model folder written ``into`` (engine.export), from its
    verified bytes; the files, in archive order."""
    with checkpoint_open(checkpoint=checkpoint) as handle:
        data = handle.read()
    try:
        return export_hf(data, into)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelCorrupt(f"{checkpoint.id}: cannot be exported: {exc}") from None


def checkpoint_sample(
    *,
    checkpoint: Checkpoint,
    prompt: str,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    seed: int | None,
) -> dict[str, Any]:
    """Text the checkpoint's model writes after ``prompt`` (on this process's CPU; the request's
    bounds keep it short), with its own tokenizer."""
    from engine.checkpoint import parse_checkpoint  # torch: only where a model is sampled
    from engine.config import ModelConfig
    from engine.errors import CheckpointCorrupt
    from engine.model import build_model
    from engine.sample import generate
    from engine.tokenizer import Tokenizer

    with checkpoint_open(checkpoint=checkpoint) as handle:
        data = handle.read()
    try:
        loaded = parse_checkpoint(data, name=checkpoint.id, sha256=checkpoint.sha256)
        config = ModelConfig(**loaded.metadata["model_config"])
        spec = loaded.metadata.get("tokenizer") or {}
        tokenizer = Tokenizer.from_json(spec.get("spec", "byte"), spec.get("json"))
        model = build_model(config, seed=0)
        model.load_state_dict({name: loaded.tensors[name] for name in model.state_dict()})
    except (CheckpointCorrupt, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelCorrupt(f"{checkpoint.id}: cannot be sampled: {exc}") from None
    ids = [int(i) for i in tokenizer.encode_batch([prompt])[0]] if prompt else []
    started = time.perf_counter()
    new = generate(model, ids, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, seed=seed)
    return {
        "model_id": checkpoint.id,
        "prompt": prompt,
        "completion": tokenizer.decode(new),
        "tokens": len(new),
        "seconds": time.perf_counter() - started,
    }


def checkpoint_verify(*, checkpoint: Checkpoint) -> None:
    """The file is there, and its bytes are the ones recorded; else MODEL_CORRUPT (1004)."""
    checkpoint_open(checkpoint=checkpoint).close()


@transaction.atomic
def checkpoint_load(*, model_id: str) -> Checkpoint:
    """Verify a checkpoint and make it the starting weights of the next session."""
    checkpoint = checkpoint_get(model_id=model_id)
    checkpoint_verify(checkpoint=checkpoint)
    Checkpoint.objects.exclude(id=checkpoint.id).update(loaded_at=None)
    checkpoint.loaded_at = timezone.now()
    checkpoint.save(update_fields=["loaded_at"])
    return checkpoint
