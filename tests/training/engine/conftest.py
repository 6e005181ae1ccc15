from __future__ import annotations

from pathlib import Path

import pytest

from training.engine.data import Corpus, load_bytes

# ../shared beside the checkout, as laid out for sessions and CI.
SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"


@pytest.fixture(scope="session")
def wikitext() -> Corpus:
    path = SHARED_DATA / "wikitext-2" / "valid.txt"
    if not path.is_file():
        pytest.fail(f"wikitext-2 is expected at {path} (../shared/data beside the checkout)")
    return Corpus.from_bytes(load_bytes("file:wikitext-2/valid.txt", data_roots=[SHARED_DATA]))
