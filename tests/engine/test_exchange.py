import secrets
import time
from collections.abc import Callable

import pytest
import torch

from engine.exchange import Exchange, RedisExchange
from tests.support.services import redis_url


@pytest.mark.parametrize(("wire", "tolerance"), [("float32", 0.0), ("float16", 1e-3), ("bfloat16", 1e-2)])
def test_updates_round_trip_with_optional_compression(
    exchange_factory: Callable[[], Exchange], wire: str, tolerance: float
) -> None:
    a, b = exchange_factory(), exchange_factory()
    vector = torch.randn(1000)
    a.propose("s:r0:proposal:a", vector, {"step": 7}, wire=wire)
    (arrival,) = b.proposals(["s:r0:proposal:a"], device=torch.device("cpu"), until=time.monotonic() + 1)
    assert arrival.meta == {"step": 7}
    assert arrival.vector is not None
    assert torch.allclose(arrival.vector, vector, atol=tolerance * 4, rtol=tolerance)
    if wire != "float32":
        a.propose("s:r0:proposal:full", vector, {"step": 7}, wire="float32")
        (full,) = b.proposals(["s:r0:proposal:full"], device=torch.device("cpu"), until=time.monotonic() + 1)
        assert arrival.nbytes < full.nbytes * 0.6


def test_altered_update_bytes_are_detected() -> None:
    prefix = f"ncrsh-test:{secrets.token_hex(4)}"
    a, b = RedisExchange(redis_url(), prefix=prefix), RedisExchange(redis_url(), prefix=prefix)
    cpu = torch.device("cpu")
    try:
        a.propose("s:r0:proposal:a", torch.ones(16), {}, wire="float32")
        a.client.setrange(f"{prefix}:s:r0:proposal:a:chunk0", 63, b"\xff")
        (altered,) = b.proposals(["s:r0:proposal:a"], device=cpu, until=time.monotonic() + 1)
        assert altered.vector is None
        assert "checksum" in altered.error
        a.client.set(f"{prefix}:s:r0:proposal:a", b"\x00\x01")
        (cut,) = b.proposals(["s:r0:proposal:a"], device=cpu, until=time.monotonic() + 1)
        assert cut.vector is None
        assert "unreadable update header" in cut.error
    finally:
        for key in a.client.scan_iter(f"{prefix}:*"):
            a.client.delete(key)
        a.close()
        b.close()


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


def test_a_proposal_reaches_the_peers_decoded_on_their_device(
    exchange_factory: Callable[[], Exchange], device: torch.device
) -> None:
    a, b = exchange_factory(), exchange_factory()
    update = torch.randn(10_000, device=device)
    own = a.propose("s:r0:proposal:a", update, {"loss": 2.5}, wire="bfloat16")
    (arrival,) = b.proposals(["s:r0:proposal:a"], device=device, until=time.monotonic() + 1.0)
    assert arrival.vector is not None
    assert arrival.vector.device.type == device.type
    assert torch.equal(arrival.vector, own)  # the proposer knows exactly what its peers decode
    assert arrival.meta == {"loss": 2.5}
    assert arrival.nbytes >= 2 * 10_000
    assert a.bytes_sent == arrival.nbytes == b.bytes_received


def test_a_large_update_travels_through_redis_in_chunks_no_value_above_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("engine.exchange.CHUNK_BYTES", 4096)
    prefix = f"ncrsh-test:{secrets.token_hex(4)}"
    a, b = RedisExchange(redis_url(), prefix=prefix), RedisExchange(redis_url(), prefix=prefix)
    try:
        update = torch.randn(10_000)  # 40 kB: ten chunks
        a.propose("s:r0:proposal:a", update, {}, wire="float32")
        sizes = [a.client.strlen(k) for k in a.client.scan_iter(f"{prefix}:s:r0:proposal:a:chunk*")]
        assert len(sizes) == 10
        assert max(sizes) <= 4096
        (arrival,) = b.proposals(["s:r0:proposal:a"], device=torch.device("cpu"), until=time.monotonic() + 1)
        assert arrival.vector is not None
        assert torch.equal(arrival.vector, update)
        a.client.setrange(f"{prefix}:s:r0:proposal:a:chunk3", 0, b"garbage")
        (corrupt,) = b.proposals(["s:r0:proposal:a"], device=torch.device("cpu"), until=time.monotonic() + 1)
        assert corrupt.vector is None
        assert "checksum" in corrupt.error
    finally:
        for key in a.client.scan_iter(f"{prefix}:*"):
            a.client.delete(key)
        a.close()
        b.close()


def test_a_round_is_forgotten_once_every_member_has_its_decision(exchange_factory: Callable[[], Exchange]) -> None:
    a, b = exchange_factory(), exchange_factory()
    a.propose("s:r0:proposal:a", torch.ones(4), {}, wire="float32")
    a.put("s:r0:votes:a", b"[]")
    a.put_if_absent("s:r0:decision", b"{}")
    b.put("s:r1:votes:b", b"[]")
    a.done("s:r0:", "a", ["a", "b"])
    assert b.wait(["s:r0:decision"], until=time.monotonic()) == {"s:r0:decision": b"{}"}  # b has not decided yet
    b.done("s:r0:", "b", ["a", "b"])
    assert b.wait(["s:r0:decision", "s:r0:votes:a"], until=time.monotonic()) == {}
    assert list(b.proposals(["s:r0:proposal:a"], device=torch.device("cpu"), until=time.monotonic())) == []
    assert b.wait(["s:r1:votes:b"], until=time.monotonic()) == {"s:r1:votes:b": b"[]"}  # the next round stays
