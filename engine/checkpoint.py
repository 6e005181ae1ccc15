"""Checkpoints: safetensors weights with JSON metadata in the file's header.

The metadata (model config, session, round, step, metrics, provenance: members, aggregator,
decision) travels inside the safetensors header under the key ``ncrsh``, so a file is complete
on its own. Writes are atomic (temporary file, fsync, rename, fsync of the folder); the sha256 of
the bytes is returned to be recorded, and a load verifies it before parsing. Nothing is ever
unpickled: a pickle, a truncated file or a flipped byte is ``CheckpointCorrupt``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from engine.errors import CheckpointCorrupt
from engine.files import METADATA_KEY, header_metadata


@dataclass(frozen=True)
class Checkpoint:
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, Any]
    sha256: str


def save_checkpoint(path: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, Any]) -> str:
    """Write atomically; returns the sha256 (hex) of the file's bytes."""
    data = st_save(
        {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()},
        metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True, default=str)},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return hashlib.sha256(data).hexdigest()


def load_checkpoint(path: Path, *, sha256: str) -> Checkpoint:
    """Verify the recorded hash, then parse; never unpickles."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointCorrupt(f"{path.name}: unreadable: {exc.strerror}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise CheckpointCorrupt(f"{path.name}: sha256 {actual} does not match the recorded {sha256}")
    return parse_checkpoint(data, name=path.name, sha256=actual)


def parse_checkpoint(data: bytes, *, name: str, sha256: str) -> Checkpoint:
    """A checkpoint from bytes whose ``sha256`` the caller has checked; never unpickles."""
    try:
        tensors = st_load(data)
        metadata = header_metadata(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointCorrupt(f"{name}: not a safetensors checkpoint: {exc}") from None
    return Checkpoint(tensors=tensors, metadata=metadata, sha256=sha256)
