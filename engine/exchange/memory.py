"""Nodes as threads of one process: the packed tensors themselves are handed over."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch

from engine.exchange.base import Arrival, Exchange
from engine.wire import Packed, unpack


class MemoryStore:
    """The shared space of in-process nodes: bytes for small values, packed tensors for proposals."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.acks: dict[str, set[str]] = {}
        self.lock = threading.Lock()

    def keys(self) -> list[str]:
        with self.lock:
            return list(self.data)


class InMemoryExchange(Exchange):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__()
        self.store = store

    def _put(self, key: str, value: bytes) -> None:
        with self.store.lock:
            self.store.data[key] = value

    def _put_if_absent(self, key: str, value: bytes) -> bytes:
        with self.store.lock:
            stored = self.store.data.setdefault(key, value)
        assert isinstance(stored, bytes)
        return stored

    def _get_present(self, keys: Sequence[str]) -> dict[str, bytes]:
        with self.store.lock:
            return {k: self.store.data[k] for k in keys if k in self.store.data}

    def _propose(self, key: str, packed: Packed, meta: dict[str, Any]) -> int:
        self._put(key, (packed, meta))  # type: ignore[arg-type]
        return packed.nbytes + len(json.dumps(meta))

    def _fetch(
        self, key: str, header: Any, device: torch.device, until: float, cancelled: Callable[[], bool]
    ) -> Arrival:
        packed, meta = header  # what a byte exchange would move: the codes and the metadata
        return Arrival(key, unpack(packed, device), dict(meta), packed.nbytes + len(json.dumps(meta)))

    def holds(self, round_prefix: str) -> bool:
        with self.store.lock:
            return any(key.startswith(round_prefix) for key in self.store.data)

    def _ack(self, round_prefix: str, node: str) -> int:
        with self.store.lock:
            acks = self.store.acks.setdefault(round_prefix, set())
            acks.add(node)
            return len(acks)

    def _forget(self, round_prefix: str) -> None:
        with self.store.lock:
            for key in [k for k in self.store.data if k.startswith(round_prefix)]:
                del self.store.data[key]
            self.store.acks.pop(round_prefix, None)
