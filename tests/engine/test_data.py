import os
import time
from pathlib import Path

import pytest
import torch

from engine.data import Batches, Corpus, decode, encode
from engine.datasets import load_bytes
from engine.errors import DatasetUnavailable


def test_bytes_round_trip() -> None:
    assert decode(encode("héllo\n")) == "héllo\n"


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


def test_the_split_is_deterministic_and_shards_are_disjoint() -> None:
    corpus = Corpus.from_bytes(bytes(range(256)) * 40, val_fraction=0.1)
    again = Corpus.from_bytes(bytes(range(256)) * 40, val_fraction=0.1)
    assert torch.equal(corpus.train, again.train)
    assert len(corpus.val) == 1024
    shards = [corpus.shard(i, 3) for i in range(3)]
    assert sum(len(s) for s in shards) <= len(corpus.train)
    starts = [s.data_ptr() for s in shards]
    assert len(set(starts)) == 3
    assert all(len(s) == len(corpus.train) // 3 for s in shards)
    assert torch.equal(torch.cat(shards), corpus.train[: 3 * (len(corpus.train) // 3)])


def test_batches_are_deterministic_per_seed_and_shifted_by_one() -> None:
    tokens = torch.arange(1000) % 256
    a = Batches(tokens.to(torch.uint8), batch_size=4, seq_len=16, seed=1)
    b = Batches(tokens.to(torch.uint8), batch_size=4, seq_len=16, seed=1)
    inputs, targets = a.next()
    assert torch.equal(inputs, b.next()[0])
    assert inputs.shape == (4, 16)
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    assert 0 < a.batch_progress < 1


def test_skipping_batches_lands_where_drawing_them_would() -> None:
    tokens = (torch.arange(5000) % 256).to(torch.uint8)
    drawn = Batches(tokens, batch_size=4, seq_len=16, seed=3)
    for _ in range(7):
        drawn.next()
    skipped = Batches(tokens, batch_size=4, seq_len=16, seed=3)
    skipped.skip(7)
    assert skipped.step == drawn.step
    assert torch.equal(skipped.next()[0], drawn.next()[0])
