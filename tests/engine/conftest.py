from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from engine.data import Corpus
from engine.datasets import load_bytes
from engine.exchange import Exchange, InMemoryExchange, MemoryStore, RedisExchange
from tests.support.services import redis_url

# ../shared beside the checkout, as laid out for sessions and CI; NCRSH_SHARED_DATA where it is
# elsewhere (a GPU host gets a copy carried beside the checkout: see bench/gpu.sh).
SHARED_DATA = Path(os.environ.get("NCRSH_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


@pytest.fixture(scope="session")
def device() -> torch.device:
    """Where the engine's tests train: the CPU here; bench/gpu.sh runs them with
    NCRSH_TEST_DEVICE=cuda on a GPU host (a missing GPU is then an error, not a skip)."""
    name = os.environ.get("NCRSH_TEST_DEVICE", "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.fail(f"NCRSH_TEST_DEVICE={name}, but torch sees no CUDA device")
    return torch.device(name)


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
