import secrets
import time
from collections.abc import Callable

import pytest
import torch

from engine.exchange import CorruptUpdate, Exchange, RedisExchange, decode_update, encode_update
from tests.support.services import redis_url


@pytest.mark.parametrize(("wire", "tolerance"), [("float32", 0.0), ("float16", 1e-3), ("bfloat16", 1e-2)])
def test_updates_round_trip_with_optional_compression(wire: str, tolerance: float) -> None:
    vector = torch.randn(1000)
    blob = encode_update(vector, {"step": 7}, wire_dtype=wire)
    decoded, meta = decode_update(blob)
    assert meta == {"step": 7}
    assert torch.allclose(decoded, vector, atol=tolerance * 4, rtol=tolerance)
    if wire != "float32":
        assert len(blob) < len(encode_update(vector, {"step": 7})) * 0.6


def test_altered_update_bytes_are_detected() -> None:
    blob = bytearray(encode_update(torch.ones(16), {}))
    blob[-1] ^= 0xFF
    with pytest.raises(CorruptUpdate, match="checksum"):
        decode_update(bytes(blob))
    with pytest.raises(CorruptUpdate):
        decode_update(b"\x00\x01")


def test_values_are_shared_and_bytes_counted(exchange_factory: Callable[[], Exchange]) -> None:
    a, b = exchange_factory(), exchange_factory()
    a.put("k1", b"x" * 100)
    found = b.wait(["k1", "k2"], until=time.monotonic() + 0.2)
    assert found == {"k1": b"x" * 100}
    assert (a.bytes_sent, b.bytes_received) == (100, 100)


def test_the_first_decision_wins(exchange_factory: Callable[[], Exchange]) -> None:
    a, b = exchange_factory(), exchange_factory()
    assert a.put_if_absent("decision", b"first") == b"first"
    assert b.put_if_absent("decision", b"second") == b"first"


def test_wait_returns_at_the_deadline_with_what_arrived(exchange_factory: Callable[[], Exchange]) -> None:
    a = exchange_factory()
    a.put("here", b"1")
    started = time.monotonic()
    assert a.wait(["here", "never"], until=started + 0.3) == {"here": b"1"}
    assert 0.25 <= time.monotonic() - started < 2.0


def test_redis_round_keys_expire() -> None:
    handle = RedisExchange(redis_url(), prefix=f"ncrsh-test:{secrets.token_hex(4)}", ttl_s=600)
    try:
        handle.put("r0:proposal:n1", b"payload")
        assert 0 < handle.client.ttl(f"{handle.prefix}:r0:proposal:n1") <= 600
    finally:
        handle.client.delete(f"{handle.prefix}:r0:proposal:n1")
        handle.close()
