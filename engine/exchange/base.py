"""The exchange's contract: ``Exchange``, one node's handle on a shared space of keys, and
``Arrival``, a peer's proposal as received (see the package doc)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from engine.wire import Packed, pack, unpack


@dataclass
class Arrival:
    """A peer's proposal as received: the decoded float32 vector (on the receiver's device), or
    why it could not be read; its wire size and the seconds its fetch took.

    The vector is the round's to read: a byte exchange may decode it in place in the handle's
    receive buffer for its sender, which the handle's next fetch from that sender overwrites."""

    key: str
    vector: torch.Tensor | None
    meta: dict[str, Any]
    nbytes: int
    error: str = ""
    seconds: float = 0.0  # set by ``Exchange.proposals``


class Exchange(ABC):
    """One node's handle. Waiting returns what arrived by the deadline; late keys are left out."""

    poll_interval = 0.005

    def __init__(self) -> None:
        self.bytes_sent = 0
        self.bytes_received = 0
        self.waited_s = 0.0

    # --- small values --------------------------------------------------------------------------
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
        ``time.monotonic()`` deadline) passes or ``cancelled()``; late keys are left out."""
        for key, value in self._poll(keys, self._get_present, until=until, cancelled=cancelled):
            self.bytes_received += len(value)
            yield key, value

    def wait(
        self, keys: Sequence[str], *, until: float, cancelled: Callable[[], bool] = lambda: False
    ) -> dict[str, bytes]:
        """Everything of ``keys`` that arrives by ``until`` (or before ``cancelled()``)."""
        return dict(self.arrivals(keys, until=until, cancelled=cancelled))

    # --- proposals -----------------------------------------------------------------------------
    def propose(self, key: str, update: torch.Tensor, meta: Mapping[str, Any], *, wire: str) -> torch.Tensor:
        """Publish ``update`` in the wire format; returns what the receivers will decode from it
        (float32, on ``update``'s device): the proposer's own view of its proposal."""
        packed = pack(update, wire)
        self.bytes_sent += self._propose(key, packed, dict(meta))
        return unpack(packed)

    def proposals(
        self,
        keys: Sequence[str],
        *,
        device: torch.device,
        until: float,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Iterator[Arrival]:
        """Each proposal of ``keys`` as it arrives (decoded onto ``device``), until all have,
        the deadline, or ``cancelled()``. Work on early ones while later ones are on their way."""
        for key, header in self._poll(keys, self._get_present, until=until, cancelled=cancelled):
            started = time.perf_counter()
            arrival = self._fetch(key, header, device, until, cancelled)
            arrival.seconds = time.perf_counter() - started
            self.bytes_received += arrival.nbytes
            yield arrival

    def holds(self, round_prefix: str) -> bool:
        """Whether a proposal of the round under ``round_prefix`` may still be read from the
        proposer's own memory: a byte exchange copies it out when it is proposed (never); the
        in-memory one lends the tensor itself until the round is forgotten."""
        return False

    def done(self, round_prefix: str, node: str, members: Sequence[str]) -> None:
        """``node`` has its decision of the round under ``round_prefix``; the last of ``members``
        to say so deletes the round's keys."""
        if self._ack(round_prefix, node) >= len(set(members)):
            self._forget(round_prefix)

    # --- what a backend provides ---------------------------------------------------------------
    def _poll(
        self,
        keys: Sequence[str],
        get: Callable[[Sequence[str]], Mapping[str, Any]],
        *,
        until: float,
        cancelled: Callable[[], bool],
    ) -> Iterator[tuple[str, Any]]:
        missing = list(keys)
        while missing:
            present = get(missing)
            yield from present.items()
            missing = [k for k in missing if k not in present]
            if not missing or time.monotonic() >= until or cancelled():
                return
            started = time.perf_counter()
            time.sleep(self.poll_interval)
            self.waited_s += time.perf_counter() - started

    @abstractmethod
    def _put(self, key: str, value: bytes) -> None: ...

    @abstractmethod
    def _put_if_absent(self, key: str, value: bytes) -> bytes: ...

    @abstractmethod
    def _get_present(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The values of ``keys`` that are there (for a proposal: what ``_fetch`` takes)."""

    @abstractmethod
    def _propose(self, key: str, packed: Packed, meta: dict[str, Any]) -> int:
        """Publish; returns the bytes it moved (what a byte exchange would, for one in memory)."""

    @abstractmethod
    def _fetch(
        self, key: str, header: Any, device: torch.device, until: float, cancelled: Callable[[], bool]
    ) -> Arrival:
        """The proposal under ``key`` (its ``header`` as polled), decoded onto ``device``; a
        payload still on its way is awaited until ``until`` or ``cancelled()``."""

    @abstractmethod
    def _ack(self, round_prefix: str, node: str) -> int: ...

    @abstractmethod
    def _forget(self, round_prefix: str) -> None: ...
