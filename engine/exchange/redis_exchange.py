"""Nodes anywhere: proposals move as bytes through Redis, in streamed, checksummed chunks."""

from __future__ import annotations

import io
import json
import math
import socket
from collections.abc import Callable, Sequence
from typing import Any

import redis
import torch
import xxhash
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from engine.config import byte_length
from engine.exchange.base import Arrival, Exchange
from engine.wire import Packed, Staging, from_bytes, to_bytes, unpack

CHUNK_BYTES = 64 * 1024 * 1024
# A node rides out a Redis outage (a restart, a failover) of up to this long: every call retries
# on a lost connection, backing off to one try every 2 s; a longer one fails the run, with the reason.
OUTAGE_S = 60.0


def outage_retry(outage_s: float = OUTAGE_S) -> Retry:
    """Retries of a call that lost its connection, for about ``outage_s`` seconds in all."""
    backoff, cap = ExponentialBackoff(cap=2.0, base=0.05), 2.0
    ramp = sum(backoff.compute(i) for i in range(1, 7))  # 0.1 … 2 s: the first tries come quickly
    return Retry(backoff, retries=6 + max(0, math.ceil((outage_s - ramp) / cap)))


def checksum(data: bytes | bytearray | memoryview) -> str:
    return f"xxh3_128:{xxhash.xxh3_128_hexdigest(data)}"


class BulkReader:
    """GETs of large values read straight off the socket into the caller's memory.

    redis-py parses a bulk reply in Python and copies it several times on the way (about
    200 MB/s on a developer VM, the whole cost of fetching a big update); here the RESP header
    is read and the value goes by ``readinto`` into the receive buffer, once. Only for plain TCP
    (``redis://``): other connections (TLS, unix sockets) GET through redis-py and copy."""

    def __init__(self, client: redis.Redis) -> None:
        self.options = client.connection_pool.connection_kwargs
        self.sock: socket.socket | None = None
        self.stream: io.BufferedReader[socket.SocketIO] | None = None

    @staticmethod
    def supports(client: redis.Redis) -> bool:
        return client.connection_pool.connection_class is redis.connection.Connection

    def _connect(self) -> tuple[socket.socket, io.BufferedReader[socket.SocketIO]]:
        options = self.options
        self.sock = sock = socket.create_connection(
            (options.get("host", "localhost"), options.get("port", 6379)),
            timeout=options.get("socket_connect_timeout"),
        )
        sock.settimeout(options.get("socket_timeout"))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = stream = io.BufferedReader(socket.SocketIO(sock, "rb"), 64 * 1024)
        if options.get("password"):
            self._call("AUTH", *[v for v in (options.get("username"), options["password"]) if v])
        if options.get("db"):
            self._call("SELECT", str(options["db"]))
        return sock, stream

    def _send(self, *parts: str) -> io.BufferedReader[socket.SocketIO]:
        sock, stream = (self.sock, self.stream) if self.sock and self.stream else self._connect()
        encoded = [part.encode() for part in parts]
        sock.sendall(b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(e), e) for e in encoded))
        return stream

    def _call(self, *parts: str) -> None:
        reply = self._send(*parts).readline()
        if not reply.startswith(b"+"):
            raise redis.ResponseError(reply.decode(errors="replace").strip())

    def get_into(self, key: str, out: memoryview) -> int | None:
        """GET ``key`` into ``out``: its length, or None if absent. A value longer than ``out``
        is read and dropped, and its length returned (the caller sees it does not fit)."""
        try:
            stream = self._send("GET", key)
            header = stream.readline()
            if header.startswith(b"-"):
                raise redis.ResponseError(header[1:].decode(errors="replace").strip())
            if not header.startswith(b"$"):
                raise redis.ConnectionError(f"unexpected reply to GET: {header[:40]!r}")
            length = int(header[1:])
            if length < 0:
                return None
            fits = length <= len(out)
            read = stream.readinto(out[:length]) if fits else len(stream.read(length))
            if read != length or stream.read(2) != b"\r\n":
                raise redis.ConnectionError(f"connection closed in the middle of {key}")
            return length
        except OSError as exc:  # refused, reset, timed out: the connection is lost
            self.close()  # the stream is mid-reply: start afresh next time
            raise redis.ConnectionError(f"GET {key}: {exc}") from exc
        except (ValueError, redis.RedisError):
            self.close()
            raise

    def close(self) -> None:
        if self.stream is not None and self.sock is not None:
            self.stream.close()
            self.sock.close()
        self.sock, self.stream = None, None


class RedisExchange(Exchange):
    """Keys live under ``prefix``; every key of a round is listed in the round's index set, so
    the round is deleted in one step (UNLINK: Redis frees the memory off its main thread), and
    expires after ``ttl_s`` if it never is. Polling is one MGET of the keys still missing: an
    absent key costs nothing, a present value is read once.

    A proposal's chunks are copied as they arrive into a receive buffer kept per sender and
    reused round after round (pinned memory when the receiver is a GPU), so a round allocates
    no host memory: on a VM a fresh gigabyte costs more in page faults than fetching it."""

    def __init__(
        self, url: str, *, prefix: str = "ncrsh:exchange", ttl_s: int = 3600, outage_s: float = OUTAGE_S
    ) -> None:
        super().__init__()
        self.retry = outage_retry(outage_s)
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, retry=self.retry)
        self.prefix, self.ttl_s = prefix, ttl_s
        self.inbox: dict[str, torch.Tensor] = {}  # sender -> its receive buffer (bytes)
        self.staging = Staging()  # this node's proposals on their way off a GPU
        self.reader = BulkReader(self.client) if BulkReader.supports(self.client) else None

    def _receive_buffer(self, key: str, nbytes: int, device: torch.device) -> torch.Tensor:
        sender, pinned = key.rsplit(":", 1)[-1], device.type == "cuda"
        buffer = self.inbox.get(sender)
        if buffer is None or buffer.numel() != nbytes or buffer.is_pinned() != pinned:
            buffer = self.inbox[sender] = torch.empty(nbytes, dtype=torch.uint8, pin_memory=pinned)
        return buffer

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def _index(self, key: str) -> str:
        """The set listing the keys of ``key``'s round (``<session>:r<index>``, its first two parts)."""
        return self._key(":".join(key.split(":")[:2]) + ":#keys")

    def _set(self, pipe: Any, key: str, value: bytes | memoryview, *, nx: bool = False) -> None:
        pipe.sadd(self._index(key), self._key(key))
        pipe.expire(self._index(key), self.ttl_s)
        pipe.set(self._key(key), value, ex=self.ttl_s, nx=nx)

    def _put(self, key: str, value: bytes) -> None:
        pipe = self.client.pipeline(transaction=False)
        self._set(pipe, key, value)
        pipe.execute()

    def _put_if_absent(self, key: str, value: bytes) -> bytes:
        pipe = self.client.pipeline(transaction=False)
        self._set(pipe, key, value, nx=True)
        if pipe.execute()[-1]:
            return value
        stored = self.client.get(self._key(key))
        assert isinstance(stored, bytes)
        return stored

    def _get_present(self, keys: Sequence[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        values = self.client.mget([self._key(k) for k in keys])
        return {k: v for k, v in zip(keys, values, strict=True) if isinstance(v, bytes)}

    def _propose(self, key: str, packed: Packed, meta: dict[str, Any]) -> int:
        # The payload's parts (int8: scales, codes) chunked as they lie: no joined copy.
        parts = to_bytes(packed, self.staging)
        chunks = [part[i : i + CHUNK_BYTES] for part in parts for i in range(0, len(part), CHUNK_BYTES)]
        header = {"dtype": packed.wire, "numel": packed.numel, "chunks": len(chunks), "meta": meta}
        encoded = json.dumps(header).encode()
        self._put(key, encoded)  # first: the receivers fetch each chunk as it lands
        for i, chunk in enumerate(chunks):  # one chunk per request: no value, no buffer above the limit
            pipe = self.client.pipeline(transaction=False)
            self._set(pipe, f"{key}:chunk{i}", chunk)
            self._set(pipe, f"{key}:sum{i}", checksum(chunk).encode())  # after its chunk: says it is there
            pipe.execute()
        return len(encoded) + packed.nbytes

    def _fetch(
        self, key: str, header: Any, device: torch.device, until: float, cancelled: Callable[[], bool]
    ) -> Arrival:
        received, meta = len(header), dict[str, Any]()

        def refused(why: str) -> Arrival:
            return Arrival(key, None, meta, received, f"corrupt: {why}")

        try:
            described = json.loads(header)
            wire, numel, count = str(described["dtype"]), int(described["numel"]), int(described["chunks"])
            meta = dict(described["meta"])
            nbytes = byte_length(wire, numel)
        except (ValueError, KeyError, TypeError) as exc:
            return refused(f"unreadable update header: {exc}")
        payload, offset = memoryview(self._receive_buffer(key, nbytes, device).numpy().data), 0
        for i in range(count):
            landed = dict(self._poll([f"{key}:sum{i}"], self._get_present, until=until, cancelled=cancelled))
            if not landed:
                return Arrival(key, None, meta, received, f"late: chunk {i} of {count} did not arrive in time")
            length = self._get_into(self._key(f"{key}:chunk{i}"), payload[offset:])
            if length is None:
                return refused(f"chunk {i} of {count} is gone")
            received += length
            expected = next(iter(landed.values())).decode(errors="replace")
            if offset + length > nbytes or checksum(payload[offset : offset + length]) != expected:
                return refused("update bytes do not match their checksum")
            offset += length
        if offset != nbytes:
            return refused("update length does not match its header")
        return Arrival(key, unpack(from_bytes(payload, wire, numel), device), meta, received)

    def _get_into(self, key: str, out: memoryview) -> int | None:
        """GET ``key`` into ``out`` (see BulkReader); its length, or None if absent."""
        if self.reader is not None:
            reader = self.reader
            return self.retry.call_with_retry(lambda: reader.get_into(key, out), lambda _: None)
        value = self.client.get(key)
        if not isinstance(value, bytes):
            return None
        out[: len(value)] = value[: len(out)]
        return len(value)

    def _ack(self, round_prefix: str, node: str) -> int:
        acks = self._key(f"{round_prefix}#acks")
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(acks, node)
        pipe.expire(acks, self.ttl_s)
        pipe.scard(acks)
        return int(pipe.execute()[-1])

    def _forget(self, round_prefix: str) -> None:
        index = self._key(f"{round_prefix}#keys")
        keys = list(self.client.smembers(index))
        self.client.unlink(*keys, index, self._key(f"{round_prefix}#acks"))

    def close(self) -> None:
        self.client.close()
        if self.reader is not None:
            self.reader.close()
