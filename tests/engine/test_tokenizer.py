import json
from pathlib import Path

import pytest

from engine.datasets import iter_texts
from engine.errors import TokenizerUnavailable
from engine.shards import train_texts
from engine.tokenizer import Tokenizer, check_tokenizer_spec, load_tokenizer, train_bpe
from tests.engine.conftest import SHARED_DATA

TEXT = "The quick brown fox — naïve café 🦊 jumps.\n"


@pytest.fixture(scope="module")
def bpe() -> Tokenizer:
    texts = train_texts(iter_texts("file:wikitext-2/valid.txt", data_roots=[SHARED_DATA]))
    return train_bpe(texts, vocab_size=1024)


def test_the_byte_tokenizer_is_utf8() -> None:
    byte = load_tokenizer("byte")
    (ids,) = byte.encode_batch([TEXT])
    assert len(ids) == len(TEXT.encode())
    assert byte.vocab_size == 256
    assert byte.decode(ids.tolist()) == TEXT


def test_a_trained_bpe_round_trips_any_text_in_fewer_tokens(bpe: Tokenizer) -> None:
    assert 512 < bpe.vocab_size <= 1024
    (ids,) = bpe.encode_batch([TEXT])
    assert bpe.decode(ids.tolist()) == TEXT  # byte-level: even characters it never saw
    sample = SHARED_DATA.joinpath("wikitext-2", "valid.txt").read_text()[:50_000]
    (tokens,) = bpe.encode_batch([sample])
    assert len(tokens) < len(sample.encode()) / 2.5


def test_a_bpe_is_the_same_for_the_same_text(bpe: Tokenizer) -> None:
    texts = train_texts(iter_texts("file:wikitext-2/valid.txt", data_roots=[SHARED_DATA]))
    assert train_bpe(texts, vocab_size=1024).sha256 == bpe.sha256


def test_a_tokenizer_file_loads_from_the_data_roots(tmp_path: Path, bpe: Tokenizer) -> None:
    assert bpe.json is not None
    (tmp_path / "tok.json").write_text(bpe.json)
    loaded = load_tokenizer("file:tok.json", data_roots=[tmp_path])
    assert loaded.sha256 == bpe.sha256
    assert loaded.vocab_size == bpe.vocab_size
    assert loaded.encode_batch([TEXT])[0].tolist() == bpe.encode_batch([TEXT])[0].tolist()
    with pytest.raises(TokenizerUnavailable, match=r"outside|no file"):
        load_tokenizer("file:/etc/hostname", data_roots=[tmp_path])
    (tmp_path / "bad.json").write_text(json.dumps({"not": "a tokenizer"}))
    with pytest.raises(TokenizerUnavailable, match=r"not a tokenizer\.json"):
        load_tokenizer("file:bad.json", data_roots=[tmp_path])


def test_a_pretrained_tokenizer_comes_from_the_local_hub_cache_only(tmp_path: Path, bpe: Tokenizer) -> None:
    assert bpe.json is not None
    repo = tmp_path / "models--acme--tiny-lm"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "tokenizer.json").write_text(bpe.json)
    assert load_tokenizer("hf:acme/tiny-lm", hf_cache=tmp_path).sha256 == bpe.sha256
    with pytest.raises(TokenizerUnavailable, match=r"nothing is downloaded"):
        load_tokenizer("hf:acme/absent", hf_cache=tmp_path)


@pytest.mark.parametrize("spec", ["sentencepiece", "hf:", "file:", "bpe:64", ""])
def test_an_unknown_tokenizer_says_what_is_accepted(spec: str) -> None:
    with pytest.raises(TokenizerUnavailable, match="byte, bpe, hf:<name>, file:"):
        check_tokenizer_spec(spec)


def test_a_bpe_vocab_must_hold_the_bytes() -> None:
    with pytest.raises(TokenizerUnavailable, match="vocab_size"):
        train_bpe(["abc"], vocab_size=100)
