"""Checkpoints in the store for tests, and the bytes of a streamed response."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import torch
from pytest_django.fixtures import Settings

from engine.checkpoint import save_checkpoint
from models_store.models import Checkpoint
from models_store.services import checkpoint_register


def stored_checkpoint(
    settings: Settings, folder: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, Any]
) -> Checkpoint:
    """``tensors`` saved with ``metadata`` and registered in a store of its own under ``folder``."""
    settings.CHECKPOINT_DIR = folder / "checkpoints"
    source = folder / "source.safetensors"
    save_checkpoint(source, tensors, metadata)
    return checkpoint_register(
        source=source, session_id=None, round_index=1, step=10, model_hash="xxh3:x", metrics={}, model_config={}
    )


def streamed(response: Any) -> bytes:
    """The whole body of a streaming response (the API streams files from async iterators)."""

    async def collect(parts: AsyncIterator[bytes]) -> bytes:
        return b"".join([part async for part in parts])

    return asyncio.run(collect(response.streaming_content))
