"""Where a round's proposals, votes and decision meet.

An ``Exchange`` is a per-node handle on a shared key-value space with write-once decisions:
``InMemoryExchange`` (nodes as threads of one process) and ``RedisExchange`` (nodes anywhere;
round keys expire). Each handle counts the bytes its node sent and received.

Updates travel as one flat vector: a small JSON header (dtype, length, checksum, metadata) and
the raw little-endian bytes, optionally compressed to fp16 or bf16. The checksum is XXH3-128:
it catches corruption on the way at memory speed (a sha256 of a default-size update costs more
than sending it); authenticity is the voting's job, not the checksum's.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import redis
import torch
import xxhash

WIRE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_HEADER = struct.Struct("<I")


class CorruptUpdate(ValueError):
    """An update whose bytes do not match its header."""


def checksum(data: bytes | memoryview) -> str:
    return f"xxh3_128:{xxhash.xxh3_128_hexdigest(data)}"


def on_the_wire(vector: torch.Tensor, wire_dtype: str) -> torch.Tensor:
    """The float32 vector a receiver decodes from ``vector`` sent as ``wire_dtype``."""
    return vector.detach().to("cpu", WIRE_DTYPES[wire_dtype]).float()


def encode_update(vector: torch.Tensor, meta: Mapping[str, Any], *, wire_dtype: str = "float32") -> bytes:
    raw = vector.detach().to("cpu", WIRE_DTYPES[wire_dtype]).contiguous().view(torch.uint8).numpy()
    payload = memoryview(raw.data)  # no copy until the single join below
    header = json.dumps(
        {"dtype": wire_dtype, "numel": vector.numel(), "checksum": checksum(payload), "meta": meta}
    ).encode()
    return b"".join((_HEADER.pack(len(header)), header, payload))


def decode_update(blob: bytes) -> tuple[torch.Tensor, dict[str, Any]]:
    """(float32 vector, metadata); ``CorruptUpdate`` if the bytes were altered or cut.

    A float32 vector is a view of ``blob`` (no copy): read it, never modify it in place."""
    try:
        (length,) = _HEADER.unpack_from(blob)
        header = json.loads(blob[_HEADER.size : _HEADER.size + length])
        payload = memoryview(blob)[_HEADER.size + length :]
        dtype = WIRE_DTYPES[header["dtype"]]
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise CorruptUpdate(f"unreadable update header: {exc}") from None
    if checksum(payload) != header["checksum"]:
        raise CorruptUpdate("update bytes do not match their checksum")
    if len(payload) != header["numel"] * dtype.itemsize:
        raise CorruptUpdate("update length does not match its header")
    if not len(payload):
        return torch.empty(0), dict(header["meta"])
    with warnings.catch_warnings():  # a view of the received (immutable) bytes: no copy
        warnings.simplefilter("ignore", UserWarning)
        vector = torch.frombuffer(payload, dtype=dtype)
    return vector.float(), dict(header["meta"])


class Exchange(ABC):
    """One node's handle. ``wait`` returns what arrived by the deadline; late keys are left out."""

    poll_interval = 0.005

    def __init__(self) -> None:
        self.bytes_sent = 0
        self.bytes_received = 0
        # Seconds the read that returned the latest arrival took: its transfer latency.
        self.last_fetch_s = 0.0

    def put(self, key: str, value: bytes) -> None:
        self._put(key, value)
        self.bytes_sent += len(value)

    def put_if_absent(self, key: str, value: bytes) -> bytes:
        """Write-once: the first writer's value wins and every caller gets it back."""
        stored = self._put_if_absent(key, value)
        self.bytes_sent += len(value)
        self.bytes_received += len(stored)
        return stored

    def arrivals(
        self, keys: Sequence[str], *, until: float, cancelled: Callable[[], bool] = lambda: False
    ) -> Iterator[tuple[str, bytes]]:
        """Yield ``(key, value)`` as each key appears, until all have, ``until`` (a
        ``time.monotonic()`` deadline) passes or ``cancelled()``; late keys are left out. Lets the
        caller work on early values while later ones are still on their way."""
        missing = list(keys)
        while missing:
            started = time.perf_counter()
            present = self._get_present(missing)
            self.last_fetch_s = time.perf_counter() - started
            for key, value in present.items():
                self.bytes_received += len(value)
                yield key, value
            missing = [k for k in missing if k not in present]
            if not missing or time.monotonic() >= until or cancelled():
                return
            time.sleep(self.poll_interval)

    def wait(
        self, keys: Sequence[str], *, until: float, cancelled: Callable[[], bool] = lambda: False
    ) -> dict[str, bytes]:
        """Everything of ``keys`` that arrives by ``until`` (or before ``cancelled()``)."""
        return dict(self.arrivals(keys, until=until, cancelled=cancelled))

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
    """Keys live under ``prefix`` and expire after ``ttl_s``, so finished rounds clean up after
    themselves. Polling is one MGET of the keys still missing: an absent key costs nothing and a
    present value is read exactly once."""

    poll_interval = 0.005

    def __init__(self, url: str, *, prefix: str = "ncrsh:exchange", ttl_s: int = 3600) -> None:
        super().__init__()
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5)
        self.prefix, self.ttl_s = prefix, ttl_s

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def _put(self, key: str, value: bytes) -> None:
        self.client.set(self._key(key), value, ex=self.ttl_s)

    def _put_if_absent(self, key: str, value: bytes) -> bytes:
        if self.client.set(self._key(key), value, ex=self.ttl_s, nx=True):
            return value
        stored = self.client.get(self._key(key))
        assert isinstance(stored, bytes)
        return stored

    def _get_present(self, keys: Sequence[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        values = self.client.mget([self._key(k) for k in keys])
        return {k: v for k, v in zip(keys, values, strict=True) if isinstance(v, bytes)}

    def close(self) -> None:
        self.client.close()
