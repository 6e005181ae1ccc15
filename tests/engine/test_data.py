import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data import Batches, Corpus, TokenStream, block_size, permute
from engine.datasets import load_bytes
from engine.errors import DatasetUnavailable


def test_builtin_pystdlib_is_real_python_source() -> None:
    text = load_bytes("builtin:pystdlib", max_bytes=200_000)
    assert len(text) == 200_000
    assert b"def " in text
    assert b"import " in text


def test_file_specs_read_inside_the_roots(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "b.txt").write_text("beta")
    assert load_bytes("file:*.txt", data_roots=[tmp_path]) == b"alpha\nbeta"
    assert load_bytes(f"file:{tmp_path / 'a.txt'}", data_roots=[tmp_path]) == b"alpha"


@pytest.mark.parametrize("spec", ["file:../etc/passwd", "file:/etc/passwd", "file:sub/../../x.txt"])
def test_file_specs_cannot_leave_the_roots(tmp_path: Path, spec: str) -> None:
    with pytest.raises(DatasetUnavailable, match=r"not allowed|outside|no file"):
        load_bytes(spec, data_roots=[tmp_path])


def test_a_symlink_out_of_the_roots_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "link.txt")
    with pytest.raises(DatasetUnavailable, match="outside"):
        load_bytes("file:link.txt", data_roots=[root])


def test_a_bare_name_is_a_folder_in_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "poems").mkdir()
    (tmp_path / "poems" / "one.txt").write_text("roses")
    assert load_bytes("poems", data_dir=tmp_path) == b"roses"
    with pytest.raises(DatasetUnavailable, match="no folder"):
        load_bytes("novels", data_dir=tmp_path)


@pytest.mark.parametrize("spec", ["s3:bucket", "builtin:everything", "huggingface:", "../x"])
def test_unknown_specs_say_what_is_accepted(tmp_path: Path, spec: str) -> None:
    with pytest.raises(DatasetUnavailable, match=spec.split(":")[0]):
        load_bytes(spec, data_dir=tmp_path)


def test_an_unavailable_huggingface_dataset_fails_fast_and_names_the_spec() -> None:
    started = time.monotonic()
    with pytest.raises(DatasetUnavailable, match="huggingface:no-such-org/no-such-dataset"):
        load_bytes("huggingface:no-such-org/no-such-dataset")
    assert time.monotonic() - started < 10


def test_nodes_take_interleaved_disjoint_blocks_of_the_train_split() -> None:
    corpus = Corpus.from_bytes(bytes(range(256)) * 2000, val_fraction=0.1)
    assert len(corpus.val) == 51_200
    assert corpus.bits_per_byte(math.log(2)) == pytest.approx(1.0)  # bytes: one token, one byte
    block = block_size(len(corpus.train), 3)
    assert block == 4096  # the smallest block: 64 per node would be smaller
    shards = [corpus.shard(i, 3) for i in range(3)]
    for rank, shard in enumerate(shards):
        blocks = [shard.read(i, block) for i in range(0, len(shard), block)]
        expected = [corpus.train.read(b, block) for b in range(rank * block, len(corpus.train) - block + 1, 3 * block)]
        assert len(blocks) == len(expected) > 20
        assert all(np.array_equal(a, b) for a, b in zip(blocks, expected, strict=True))
    assert sum(len(s) for s in shards) > len(corpus.train) - 3 * block  # nothing but the ragged end is left out


def test_a_stream_reads_across_its_shards() -> None:
    stream = TokenStream([np.arange(0, 10), np.arange(10, 25), np.arange(25, 30)])
    assert len(stream) == 30
    assert stream.read(8, 20).tolist() == list(range(8, 28))
    part = stream.slice(7, 26)
    assert len(part) == 19
    assert part.read(0, 19).tolist() == list(range(7, 26))
    with pytest.raises(IndexError):
        stream.read(25, 6)


def test_batches_are_deterministic_per_seed_and_shifted_by_one() -> None:
    tokens = TokenStream([(np.arange(1000) % 256).astype(np.uint8)])
    a = Batches(tokens, batch_size=4, seq_len=16, seed=1)
    b = Batches(tokens, batch_size=4, seq_len=16, seed=1)
    inputs, targets = a.next()
    assert torch.equal(inputs, b.next()[0])
    assert inputs.shape == (4, 16)
    assert inputs.dtype == torch.int64
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    assert 0 < a.batch_progress < 1
    assert a.offsets(0) != Batches(tokens, batch_size=4, seq_len=16, seed=2).offsets(0)


def test_an_epoch_visits_every_window_once() -> None:
    tokens = TokenStream([np.zeros(16 * 101 + 1, dtype=np.uint16)])
    batches = Batches(tokens, batch_size=4, seq_len=16, seed=3)
    assert batches.windows == 100
    starts = [o for step in range(25) for o in batches.offsets(step)]
    shift = starts[0] % 16
    assert all(o % 16 == shift for o in starts)
    assert sorted(o // 16 for o in starts) == list(range(100))  # no window twice, none skipped
    assert max(starts) + 17 <= len(tokens)


def test_a_batches_started_at_a_step_continues_exactly_where_drawing_would() -> None:
    tokens = TokenStream([(np.arange(5000) % 256).astype(np.uint8)])
    drawn = Batches(tokens, batch_size=4, seq_len=16, seed=3)
    for _ in range(77):
        drawn.next()
    resumed = Batches(tokens, batch_size=4, seq_len=16, seed=3, start_step=77)
    assert resumed.step == drawn.step
    assert resumed.offsets(77) == drawn.offsets(77)
    assert torch.equal(resumed.next()[0], drawn.next()[0])


def test_a_stream_too_short_for_two_sequences_is_a_clear_error() -> None:
    with pytest.raises(DatasetUnavailable, match="too few"):
        Batches(TokenStream([np.zeros(20, dtype=np.uint8)]), batch_size=1, seq_len=16, seed=0)


@pytest.mark.parametrize(
    "spec", ["huggingface:../../etc", "huggingface:/etc/passwd", "huggingface:a/b/c/d", "huggingface:org/../x"]
)
def test_a_hub_spec_is_a_hub_name_never_a_path(spec: str) -> None:
    with pytest.raises(DatasetUnavailable, match="not a Hub dataset name"):
        load_bytes(spec)


def test_a_hub_name_that_is_a_local_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key.txt").write_text("hunter2")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetUnavailable, match="also a local folder"):
        load_bytes("huggingface:secrets")


def test_a_bare_name_that_leads_out_of_the_data_dir_is_refused_without_naming_server_paths(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.txt").write_text("root:x:0:0")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.symlink(outside, data_dir / "etc")
    with pytest.raises(DatasetUnavailable, match="leads outside") as refused:
        load_bytes("etc", data_dir=data_dir)
    with pytest.raises(DatasetUnavailable) as missing:
        load_bytes("novels", data_dir=data_dir)
    (data_dir / "link.txt").symlink_to(outside / "passwd.txt")
    with pytest.raises(DatasetUnavailable) as linked:
        load_bytes("file:link.txt", data_roots=[data_dir])
    for error in (refused, missing, linked):
        assert str(tmp_path) not in str(error.value)


@pytest.mark.parametrize("size", [1, 2, 3, 100, 1000, 4097, 65_536])
def test_permute_is_a_bijection_of_any_size(size: int) -> None:
    out = permute(np.arange(size), size, [1, 2, 3, 4])
    assert sorted(out.tolist()) == list(range(size))


def test_consecutive_samples_land_all_over_the_stream() -> None:
    """An affine order (a*i + c mod W) put some batches' windows side by side: a batch of one
    article. The Feistel order spreads every batch as uniform draws would: 32 samples in at least 18 of 100 regions."""
    tokens = TokenStream([np.zeros(64 * 10_001 + 1, dtype=np.uint16)])
    batches = Batches(tokens, batch_size=32, seq_len=64, seed=5)
    for step in range(0, 300, 7):
        regions = {o // (64 * 100) for o in batches.offsets(step)}
        assert len(regions) >= 18, (step, sorted(regions))
