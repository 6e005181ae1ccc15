"""Where a round's proposals, votes and decision meet.

An ``Exchange`` is a per-node handle on a shared key-value space with write-once decisions:
``InMemoryExchange`` (nodes as threads of one process) and ``RedisExchange`` (nodes anywhere;
round keys expire). Each handle counts the bytes its node sent and received.

Updates travel as one flat vector: a small JSON header (dtype, length, sha256, metadata) and the
raw little-endian bytes, optionally compressed to fp16 or bf16.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import redis
import torch

WIRE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_HEADER = struct.Struct("<I")


class CorruptUpdate(ValueError):
    """An update whose bytes do not match its header."""


def encode_update(vector: torch.Tensor, meta: Mapping[str, Any], *, wire_dtype: str = "float32") -> bytes:
    payload = vector.detach().to("cpu", WIRE_DTYPES[wire_dtype]).contiguous().view(torch.uint8).numpy().tobytes()
    header = json.dumps(
        {"dtype": wire_dtype, "numel": vector.numel(), "sha256": hashlib.sha256(payload).hexdigest(), "meta": meta}
    ).encode()
    return _HEADER.pack(len(header)) + header + payload


def decode_update(blob: bytes) -> tuple[torch.Tensor, dict[str, Any]]:
    """(float32 vector, metadata); ``CorruptUpdate`` if the bytes were altered or cut."""
    try:
        (length,) = _HEADER.unpack_from(blob)
        header = json.loads(blob[_HEADER.size : _HEADER.size + length])
        payload = memoryview(blob)[_HEADER.size + length :]
        dtype = WIRE_DTYPES[header["dtype"]]
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise CorruptUpdate(f"unreadable update header: {exc}") from None
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise CorruptUpdate("update bytes do not match their sha256")
    vector = torch.frombuffer(bytearray(payload), dtype=dtype)
    if vector.numel() != header["numel"]:
        raise CorruptUpdate("update length does not match its header")
    return vector.float(), dict(header["meta"])


class Exchange(ABC):
    """One node's handle. ``wait`` returns what arrived by the deadline; late keys are left out."""

    poll_interval = 0.005

    def __init__(self) -> None:
        self.bytes_sent = 0
        self.bytes_received = 0

    def put(self, key: str, value: bytes) -> None:
        self._put(key, value)
        self.bytes_sent += len(value)

    def put_if_absent(self, key: str, value: bytes) -> bytes:
        """Write-once: the first writer's value wins and every caller gets it back."""
        stored = self._put_if_absent(key, value)
        self.bytes_sent += len(value)
        self.bytes_received += len(stored)
        return stored

    def wait(self, keys: Sequence[str], *, until: float, at_least: int | None = None) -> dict[str, bytes]:
        """Fetch ``keys`` as they appear, until all (or ``at_least``) are here or ``until``
        (a ``time.monotonic()`` deadline) passes."""
        wanted = len(keys) if at_least is None else at_least
        found: dict[str, bytes] = {}
        while True:
            missing = [k for k in keys if k not in found]
            for key, value in self._get_present(missing).items():
                found[key] = value
                self.bytes_received += len(value)
            if len(found) >= wanted or time.monotonic() >= until:
                return found
            time.sleep(self.poll_interval)

    @abstractmethod
    def _put(self, key: str, value: bytes) -> None: ...

    @abstractmethod
    def _put_if_absent(self, key: str, value: bytes) -> bytes: ...

    @abstractmethod
    def _get_present(self, keys: Sequence[str]) -> dict[str, bytes]: ...


class MemoryStore:
    """The shared space of in-process nodes."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.lock = threading.Lock()


class InMemoryExchange(Exchange):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__()
        self.store = store

    def _put(self, key: str, value: bytes) -> None:
        with self.store.lock:
            self.store.data[key] = value

    def _put_if_absent(self, key: str, value: bytes) -> bytes:
        with self.store.lock:
            return self.store.data.setdefault(key, value)

    def _get_present(self, keys: Sequence[str]) -> dict[str, bytes]:
        with self.store.lock:
            return {k: self.store.data[k] for k in keys if k in self.store.data}


class RedisExchange(Exchange):
    """Keys live under ``prefix`` and expire after ``ttl_s`` so finished rounds clean up after
    themselves. Presence is polled with EXISTS-cheap MGET of small markers; a blob is read once."""

    poll_interval = 0.01

    def __init__(self, url: str, *, prefix: str = "ncrsh:exchange", ttl_s: int = 3600) -> None:
        super().__init__()
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5)
        self.prefix, self.ttl_s = prefix, ttl_s

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def _put(self, key: str, value: bytes) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._key(key), value, ex=self.ttl_s)
        pipe.set(self._key(key) + ":here", b"1", ex=self.ttl_s)
        pipe.execute()

    def _put_if_absent(self, key: str, value: bytes) -> bytes:
        if self.client.set(self._key(key), value, ex=self.ttl_s, nx=True):
            self.client.set(self._key(key) + ":here", b"1", ex=self.ttl_s)
            return value
        stored = self.client.get(self._key(key))
        assert isinstance(stored, bytes)
        return stored

    def _get_present(self, keys: Sequence[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        markers = self.client.mget([self._key(k) + ":here" for k in keys])
        present = [k for k, marker in zip(keys, markers, strict=True) if marker is not None]
        if not present:
            return {}
        values = self.client.mget([self._key(k) for k in present])
        return {k: v for k, v in zip(present, values, strict=True) if isinstance(v, bytes)}

    def close(self) -> None:
        self.client.close()
