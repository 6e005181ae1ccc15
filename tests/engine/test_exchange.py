import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import torch

from engine.exchange import BulkReader, Exchange, RedisExchange
from tests.support.services import own_redis, redis_url


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


@contextmanager
def redis_handles(count: int, url: str | None = None) -> Iterator[tuple[str, list[RedisExchange]]]:
    """``count`` handles on a real Redis under a fresh key prefix, whose keys go afterwards."""
    prefix = f"ncrsh-test:{secrets.token_hex(4)}"
    handles = [RedisExchange(url or redis_url(), prefix=prefix) for _ in range(count)]
    try:
        yield prefix, handles
    finally:
        for key in handles[0].client.scan_iter(f"{prefix}:*"):
            handles[0].client.delete(key)
        for handle in handles:
            handle.close()


def test_altered_update_bytes_are_detected() -> None:
    cpu = torch.device("cpu")
    with redis_handles(2) as (prefix, (a, b)):
        a.propose("s:r0:proposal:a", torch.ones(16), {}, wire="float32")
        a.client.setrange(f"{prefix}:s:r0:proposal:a:chunk0", 63, b"\xff")
        (altered,) = b.proposals(["s:r0:proposal:a"], device=cpu, until=time.monotonic() + 1)
        assert altered.vector is None
        assert "checksum" in altered.error
        a.client.set(f"{prefix}:s:r0:proposal:a", b"\x00\x01")
        (cut,) = b.proposals(["s:r0:proposal:a"], device=cpu, until=time.monotonic() + 1)
        assert cut.vector is None
        assert "unreadable update header" in cut.error


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


def test_the_redis_exchange_rides_out_a_redis_restart(tmp_path: Path) -> None:
    # Redis is killed with a round under way and comes back 3 s later, empty: the calls made
    # meanwhile wait for it instead of failing the run, and the round goes on.
    with own_redis(tmp_path) as server:
        a, b = (RedisExchange(server.url, prefix="outage", ttl_s=600, outage_s=20) for _ in range(2))
        try:
            a.put("s:r0:vote:a", b"yes")
            server.stop()
            restarting = threading.Event()

            def restart() -> None:
                restarting.set()  # before the process exists: nothing can reach Redis earlier
                server.start()

            threading.Timer(3.0, restart).start()
            sent = a.propose("s:r0:proposal:a", torch.arange(1000.0), {}, wire="int8")
            assert restarting.is_set()  # it waited for Redis instead of failing
            (arrival,) = b.proposals(["s:r0:proposal:a"], device=torch.device("cpu"), until=time.monotonic() + 5)
            assert arrival.vector is not None
            assert torch.equal(arrival.vector, sent)
            assert b.wait(["s:r0:vote:a"], until=time.monotonic() + 0.2) == {}  # lost with the restart
        finally:
            a.close()
            b.close()


def test_an_outage_longer_than_the_exchange_bears_is_a_connection_error(tmp_path: Path) -> None:
    with own_redis(tmp_path) as server:
        handle = RedisExchange(server.url, prefix="outage", ttl_s=600, outage_s=1)
        server.stop()
        with pytest.raises(redis.ConnectionError):
            handle.put("s:r0:vote:a", b"yes")
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
    monkeypatch.setattr("engine.exchange.redis_exchange.CHUNK_BYTES", 4096)
    with redis_handles(2) as (prefix, (a, b)):
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


def test_a_receiver_streams_the_chunks_as_they_land_and_a_missing_one_makes_the_proposal_late(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("engine.exchange.redis_exchange.CHUNK_BYTES", 4096)
    real_set, real_get_into = RedisExchange._set, RedisExchange._get_into
    fetched: list[float] = []

    def slow_set(self: RedisExchange, pipe: Any, key: str, value: Any, *, nx: bool = False) -> None:
        if ":sum" in key:  # each chunk lands 50 ms after the last
            time.sleep(0.05)
        real_set(self, pipe, key, value, nx=nx)

    def timed_get_into(self: RedisExchange, key: str, out: memoryview) -> int | None:
        fetched.append(time.monotonic())
        return real_get_into(self, key, out)

    monkeypatch.setattr(RedisExchange, "_set", slow_set)
    monkeypatch.setattr(RedisExchange, "_get_into", timed_get_into)
    cpu = torch.device("cpu")
    with redis_handles(2) as (prefix, (a, b)):
        update = torch.randn(10_000)  # ten chunks
        sender = threading.Thread(target=a.propose, args=("s:r0:proposal:a", update, {}), kwargs={"wire": "float32"})
        sender.start()
        (arrival,) = b.proposals(["s:r0:proposal:a"], device=cpu, until=time.monotonic() + 5)
        sender.join()
        sent = time.monotonic()
        assert arrival.vector is not None
        assert torch.equal(arrival.vector, update)
        assert len(fetched) == 10
        assert fetched[0] < sent - 0.3  # the header came first: the first chunk was fetched mid-send
        assert b.waited_s > 0.1  # the waits for the chunks count as waits for a peer
        a.client.delete(f"{prefix}:s:r0:proposal:a:sum7", f"{prefix}:s:r0:proposal:a:chunk7")
        started = time.monotonic()
        (late,) = b.proposals(["s:r0:proposal:a"], device=cpu, until=started + 0.3)
        assert late.vector is None
        assert late.error == "late: chunk 7 of 10 did not arrive in time"
        assert time.monotonic() - started >= 0.25


def test_the_bulk_reader_reads_the_selected_database_and_redis_py_is_the_fallback() -> None:
    """Values are read straight into the receive buffer over the URL's database; where the
    reader does not apply (TLS, unix sockets) redis-py's GET gives the same bytes."""
    db0, db3 = (urlsplit(redis_url())._replace(path=f"/{db}").geturl() for db in (0, 3))
    with redis_handles(3, db3) as (prefix, (a, b, fallback)):
        fallback.reader = None
        assert BulkReader.supports(b.client)
        assert b.reader is not None
        update = torch.randn(5000)
        a.propose("s:r0:proposal:a", update, {}, wire="float32")
        assert not redis.Redis.from_url(db0).exists(f"{prefix}:s:r0:proposal:a")  # in db 3 only
        for handle in (b, fallback):
            (arrival,) = handle.proposals(["s:r0:proposal:a"], device=torch.device("cpu"), until=time.monotonic() + 1)
            assert arrival.vector is not None
            assert torch.equal(arrival.vector, update)
        out = bytearray(8)
        assert b.reader.get_into(f"{prefix}:absent", memoryview(out)) is None
        a.client.set(f"{prefix}:long", b"0123456789")
        assert b.reader.get_into(f"{prefix}:long", memoryview(out)) == 10  # too long: read, not written
        assert out == bytearray(8)
        a.client.set(f"{prefix}:short", b"abc")
        assert b.reader.get_into(f"{prefix}:short", memoryview(out)) == 3  # the connection is still in step
        assert out[:3] == b"abc"


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
