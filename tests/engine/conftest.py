from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.data import Corpus
from engine.datasets import load_bytes
from engine.exchange import Exchange, InMemoryExchange, MemoryStore, RedisExchange
from tests.support.services import redis_url

# ../shared beside the checkout, as laid out for sessions and CI.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def wikitext() -> Corpus:
    path = SHARED_DATA / "wikitext-2" / "valid.txt"
    if not path.is_file():
        pytest.fail(f"wikitext-2 is expected at {path} (../shared/data beside the checkout)")
    return Corpus.from_bytes(load_bytes("file:wikitext-2/valid.txt", data_roots=[SHARED_DATA]))


@pytest.fixture(params=["memory", "redis"])
def exchange_factory(request: pytest.FixtureRequest) -> Iterator[Callable[[], Exchange]]:
    """A factory of per-node handles on one shared exchange: in memory, or a real Redis."""
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: InMemoryExchange(store)
        return
    url = redis_url()
    prefix = f"ncrsh-test:{secrets.token_hex(4)}"
    handles: list[RedisExchange] = []

    def make() -> Exchange:
        handles.append(RedisExchange(url, prefix=prefix, ttl_s=600))
        return handles[-1]

    yield make
    for handle in handles:
        for key in handle.client.scan_iter(f"{prefix}:*"):
            handle.client.delete(key)
        handle.close()
