"""Test-only fault injection: an exchange wrapper that makes its node Byzantine or slow.

Chosen by configuration (``NodeSpec.fault``, set from ``NCRSH_FAULT_INJECTION`` on the Django
side), so the training loop itself knows nothing of faults:

scale      the node's proposals are multiplied by 1000
sign_flip  ... negated
nan        ... all NaN
slow       the node proposes ``delay_s`` late (half a deadline past the round's deadline: a straggler)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from engine.exchange import Arrival, Exchange
from engine.wire import Packed

FAULTS = ("scale", "sign_flip", "nan", "slow")


def corrupt(update: torch.Tensor, fault: str) -> torch.Tensor:
    if fault == "scale":
        return update * 1e3
    if fault == "sign_flip":
        return -update
    if fault == "nan":
        return torch.full_like(update, float("nan"))
    return update


class FaultyExchange(Exchange):
    """Everything goes through ``inner``; only this node's proposals are altered or delayed."""

    def __init__(self, inner: Exchange, fault: str, *, delay_s: float) -> None:
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        super().__init__()
        self.inner, self.fault, self.delay_s = inner, fault, delay_s

    def propose(self, key: str, update: torch.Tensor, meta: Mapping[str, Any], *, wire: str) -> torch.Tensor:
        if self.fault == "slow":
            time.sleep(self.delay_s)
        return super().propose(key, corrupt(update, self.fault), meta, wire=wire)

    def holds(self, round_prefix: str) -> bool:
        return self.inner.holds(round_prefix)

    def _put(self, key: str, value: bytes) -> None:
        self.inner._put(key, value)

    def _put_if_absent(self, key: str, value: bytes) -> bytes:
        return self.inner._put_if_absent(key, value)

    def _get_present(self, keys: Sequence[str]) -> dict[str, bytes]:
        return self.inner._get_present(keys)

    def _propose(self, key: str, packed: Packed, meta: dict[str, Any]) -> int:
        return self.inner._propose(key, packed, meta)

    def _fetch(
        self, key: str, header: Any, device: torch.device, until: float, cancelled: Callable[[], bool]
    ) -> Arrival:
        return self.inner._fetch(key, header, device, until, cancelled)

    def _ack(self, round_prefix: str, node: str) -> int:
        return self.inner._ack(round_prefix, node)

    def _forget(self, round_prefix: str) -> None:
        self.inner._forget(round_prefix)
