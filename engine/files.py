"""Checkpoint files without torch: hashing and header metadata (the web process reads them too)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, BinaryIO

_CHUNK = 1 << 20
METADATA_KEY = "ncrsh"  # where a checkpoint's JSON metadata sits in the safetensors header


def stream_sha256(handle: BinaryIO) -> str:
    """Hex sha256 of what is left in an open file, read in chunks: a large checkpoint is never
    whole in memory."""
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return stream_sha256(handle)


def header_metadata(data: bytes) -> dict[str, Any]:
    """The ncrsh metadata of a safetensors file, from its first bytes (at least the header)."""
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    return dict(json.loads(header.get("__metadata__", {}).get(METADATA_KEY, "{}")))


def read_metadata(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        return header_metadata(length.to_bytes(8, "little") + handle.read(length))
