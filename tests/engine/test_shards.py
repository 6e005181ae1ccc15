from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.data import Batches, Corpus
from engine.errors import DatasetCorrupt, DatasetUnavailable
from engine.shards import HEADER_INTS, MAGIC, PIECE_CHARS, pieces, prepare
from engine.tokenizer import Tokenizer, load_tokenizer, train_bpe

LINE = "a line of text, with some words in it\n"


def text(lines: int) -> list[str]:
    return [LINE * (lines // 4)] * 4


def test_pieces_cut_at_line_ends_and_lose_nothing() -> None:
    texts = ["x" * 10 + "\n" + "y" * 40_000 + "\n", "z\n" * 20_000, "tail without newline"]
    out = list(pieces(texts))
    assert "".join(out) == "".join(texts)
    assert all(p.endswith("\n") and len(p) >= PIECE_CHARS for p in out[:-1])


def test_prepare_writes_llm_c_shards_and_a_manifest(tmp_path: Path) -> None:
    manifest = prepare(
        text(20_000), tokenizer=load_tokenizer("byte"), root=tmp_path, name="lines", source="test", shard_tokens=200_000
    )
    folder = tmp_path / "lines"
    total = len(LINE) * 20_000
    assert manifest["train"]["tokens"] + manifest["val"]["tokens"] == total
    assert manifest["train"]["bytes"] + manifest["val"]["bytes"] == total
    assert 0.05 < manifest["val"]["tokens"] / total < 0.15  # every tenth piece
    assert len(manifest["train"]["shards"]) == -(-manifest["train"]["tokens"] // 200_000)
    first = folder / manifest["train"]["shards"][0]["file"]
    header = np.fromfile(first, dtype=np.int32, count=HEADER_INTS)
    assert header[:3].tolist() == [MAGIC, 1, 200_000]  # llm.c: version 1 is uint16 tokens
    tokens = np.fromfile(first, dtype=np.uint16, offset=HEADER_INTS * 4)
    assert bytes(tokens.astype(np.uint8).tolist()).decode().startswith(LINE)
    corpus = Corpus.open(folder)
    assert len(corpus.train) == manifest["train"]["tokens"]
    assert corpus.bytes_per_token == 1.0


def test_a_vocab_past_65536_is_stored_as_uint32(tmp_path: Path) -> None:
    wide = Tokenizer("byte", 70_000, None)
    prepare(text(20_000), tokenizer=wide, root=tmp_path, name="wide", source="test")
    shard = next((tmp_path / "wide").glob("train_*.bin"))
    assert np.fromfile(shard, dtype=np.int32, count=2)[1] == 2
    assert Corpus.open(tmp_path / "wide").train.read(0, 3).dtype == np.uint32


def test_a_bpe_dataset_reports_bits_per_byte_through_its_bytes_per_token(tmp_path: Path) -> None:
    words = [" ".join(f"w{i % 97}x{i % 13}" for i in range(j, j + 400)) + "\n" for j in range(200)]
    bpe = train_bpe(words, vocab_size=600)
    prepare(words, tokenizer=bpe, root=tmp_path, name="bpe", source="test")
    corpus = Corpus.open(tmp_path / "bpe")
    assert corpus.tokenizer.sha256 == bpe.sha256
    assert corpus.bytes_per_token > 1.2  # BPE merges bytes
    assert corpus.bits_per_byte(2.0) == pytest.approx(2.0 / np.log(2) / corpus.bytes_per_token)


def test_a_shard_that_does_not_match_its_manifest_is_refused(tmp_path: Path) -> None:
    prepare(
        text(20_000), tokenizer=load_tokenizer("byte"), root=tmp_path, name="d", source="test", shard_tokens=200_000
    )
    shard = tmp_path / "d" / "train_000001.bin"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1
    shard.write_bytes(bytes(data))
    corpus = Corpus.open(tmp_path / "d")  # the train shards are checked when a node takes its blocks
    with pytest.raises(DatasetCorrupt, match=r"train_000001\.bin: sha256"):
        corpus.shard(1, 4)
    (tmp_path / "d" / "val_000000.bin").write_bytes(b"short")
    with pytest.raises(DatasetCorrupt, match=r"val_000000\.bin"):
        Corpus.open(tmp_path / "d")


def test_each_train_shard_is_hashed_once_however_often_nodes_take_their_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(
        text(20_000), tokenizer=load_tokenizer("byte"), root=tmp_path, name="d", source="test", shard_tokens=200_000
    )
    corpus = Corpus.open(tmp_path / "d")
    hashed: list[str] = []
    monkeypatch.setattr("engine.data.check_sha256", lambda path, sha256: hashed.append(path.name))
    for _ in range(3):
        for rank in range(4):
            corpus.shard(rank, 4)
    assert sorted(hashed) == sorted(p.name for p in (tmp_path / "d").glob("train_*.bin"))


def test_an_interrupted_preparation_leaves_nothing_listed_and_the_next_one_succeeds(tmp_path: Path) -> None:
    def failing() -> Iterator[str]:
        yield LINE * 5000
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        prepare(failing(), tokenizer=load_tokenizer("byte"), root=tmp_path, name="d", source="test")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DatasetUnavailable, match="not prepared"):
        Corpus.open(tmp_path / "d")
    prepare(text(20_000), tokenizer=load_tokenizer("byte"), root=tmp_path, name="d", source="test")
    assert [p.name for p in tmp_path.iterdir()] == ["d"]
    with pytest.raises(DatasetUnavailable, match="already prepared"):
        prepare(text(20_000), tokenizer=load_tokenizer("byte"), root=tmp_path, name="d", source="test")


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "x" * 101, "sp ace"])
def test_a_bad_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(DatasetUnavailable, match="dataset name"):
        prepare(text(20_000), tokenizer=load_tokenizer("byte"), root=tmp_path, name=name, source="test")


def test_too_little_text_for_a_validation_split_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailable, match="validation split"):
        prepare(["tiny\n"], tokenizer=load_tokenizer("byte"), root=tmp_path, name="d", source="test")
    assert list(tmp_path.iterdir()) == []


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def test_reading_a_dataset_larger_than_the_memory_budget_keeps_the_rss_flat(tmp_path: Path) -> None:
    """The small-scale twin of bench/data.py: 200 MB of shards, read window by window all over,
    grow the reader's RSS by well under their size (pages are released as it goes)."""
    big = "".join(LINE for _ in range(20_000))
    prepare([big] * 140, tokenizer=load_tokenizer("byte"), root=tmp_path, name="big", source="test")
    corpus = Corpus.open(tmp_path / "big")
    assert len(corpus.train) * 2 > 190e6  # bytes of uint16 shards
    batches = Batches(corpus.shard(0, 1), batch_size=32, seq_len=64, seed=0)
    batches.next()
    before = rss_mb()
    for _ in range(3000):  # 96k windows: every 4 KB page of the shards, many times over
        batches.next()
    assert rss_mb() - before < 100
