"""Prepared datasets: text through a tokenizer into memory-mapped token shards.

A prepared dataset is a folder::

    manifest.json          name, source, tokenizer (spec, file, sha256, vocab), split sizes, shards
    tokenizer.json         the tokenizer's definition (absent for byte)
    train_000000.bin ...   llm.c's layout: 256 int32 header (magic 20240520, version, token count),
    val_000000.bin         then the tokens: uint16 (version 1) or uint32 (version 2)

The text streams through in pieces of about ``PIECE_CHARS`` characters cut at line ends; every
``VAL_EVERY``-th piece is held out for validation, so the split needs no length known in advance.
A dataset is written under a hidden temporary name and renamed into place once complete: an
interrupted preparation is never listed, and the next one sweeps it away.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DatasetCorrupt, DatasetUnavailable
from engine.files import file_sha256
from engine.tokenizer import Tokenizer

MAGIC = 20240520
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
VERSIONS: dict[np.dtype[Any], int] = {np.dtype(np.uint16): 1, np.dtype(np.uint32): 2}
PIECE_CHARS = 16 * 1024
VAL_EVERY = 10
SHARD_TOKENS = 100_000_000
BPE_SAMPLE_CHARS = 256 * 1024 * 1024
MANIFEST = "manifest.json"
FORMAT = "ncrsh-tokens/1"
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def check_name(name: str) -> None:
    if not name or len(name) > 100 or not set(name) <= NAME_CHARS or name.startswith("."):
        raise DatasetUnavailable(
            f"{name!r}: a dataset name is 1-100 letters, digits, '-', '_' or '.', and does not start with '.'"
        )


def pieces(texts: Iterable[str], size: int = PIECE_CHARS) -> Iterator[str]:
    """The text in pieces of at least ``size`` characters, each ending at a line end (or the end)."""
    buffer: list[str] = []
    held = 0
    for text in texts:
        start = 0
        while held + len(text) - start >= size:
            cut = text.find("\n", start + max(0, size - held - 1))
            if cut < 0:
                break
            buffer.append(text[start : cut + 1])
            yield "".join(buffer)
            buffer, held, start = [], 0, cut + 1
        buffer.append(text[start:])
        held += len(text) - start
    if held:
        yield "".join(buffer)


def is_val(index: int) -> bool:
    return index % VAL_EVERY == VAL_EVERY - 1


def train_texts(texts: Iterable[str], limit: int = BPE_SAMPLE_CHARS) -> Iterator[str]:
    """The training pieces only (a tokenizer never sees the held-out text), up to ``limit`` chars."""
    seen = 0
    for index, piece in enumerate(pieces(texts)):
        if not is_val(index):
            yield piece
            seen += len(piece)
            if seen >= limit:
                return


@dataclass(frozen=True)
class Progress:
    tokens: int
    bytes: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)


class _ShardWriter:
    """Tokens of one split into ``<split>_NNNNNN.bin`` files of at most ``shard_tokens`` each."""

    def __init__(self, folder: Path, split: str, dtype: np.dtype, shard_tokens: int) -> None:
        self.folder, self.split, self.dtype, self.shard_tokens = folder, split, dtype, shard_tokens
        self.shards: list[dict[str, Any]] = []
        self.tokens = self.bytes = 0
        self.handle: Any = None
        self.in_shard = 0

    def write(self, tokens: np.ndarray, nbytes: int) -> None:
        self.bytes += nbytes
        while len(tokens):
            if self.handle is None:
                self._open()
            take = min(len(tokens), self.shard_tokens - self.in_shard)
            self.handle.write(tokens[:take].astype(self.dtype, copy=False).tobytes())
            self.in_shard += take
            self.tokens += take
            tokens = tokens[take:]
            if self.in_shard == self.shard_tokens:
                self._close()

    def finish(self) -> dict[str, Any]:
        if self.handle is not None:
            self._close()
        return {"tokens": self.tokens, "bytes": self.bytes, "shards": self.shards}

    def _open(self) -> None:
        path = self.folder / f"{self.split}_{len(self.shards):06d}.bin"
        self.handle = path.open("wb")
        self.handle.write(b"\0" * HEADER_BYTES)
        self.in_shard = 0

    def _close(self) -> None:
        header = np.zeros(HEADER_INTS, dtype=np.int32)
        header[:3] = (MAGIC, VERSIONS[self.dtype], self.in_shard)
        self.handle.seek(0)
        self.handle.write(header.tobytes())
        self.handle.flush()
        os.fsync(self.handle.fileno())
        name = Path(self.handle.name).name
        self.handle.close()
        self.handle = None
        self.shards.append({"file": name, "tokens": self.in_shard, "sha256": file_sha256(self.folder / name)})


def prepare(
    texts: Iterable[str],
    *,
    tokenizer: Tokenizer,
    root: Path,
    name: str,
    source: str,
    shard_tokens: int = SHARD_TOKENS,
    progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Tokenise ``texts`` into the dataset ``root/name``; returns its manifest. The folder appears
    only once it is complete; a dataset already there is an error (remove it to prepare again)."""
    check_name(name)
    final = root / name
    if final.exists():
        raise DatasetUnavailable(f"{name}: already prepared at {final} (remove it, or choose another name)")
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{name}.partial-*"):  # left by an interrupted preparation
        shutil.rmtree(stale, ignore_errors=True)
    work = root / f".{name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        dtype = np.dtype(tokenizer.dtype)
        splits = {s: _ShardWriter(work, s, dtype, shard_tokens) for s in ("train", "val")}
        started, tokens, nbytes = time.perf_counter(), 0, 0
        batch: list[tuple[int, str]] = []

        def flush() -> None:
            nonlocal tokens, nbytes
            encoded = tokenizer.encode_batch([text for _, text in batch])
            for (index, text), ids in zip(batch, encoded, strict=True):
                size = len(text.encode("utf-8"))
                splits["val" if is_val(index) else "train"].write(ids, size)
                tokens, nbytes = tokens + len(ids), nbytes + size
            batch.clear()
            if progress is not None:
                progress(Progress(tokens, nbytes, time.perf_counter() - started))

        for item in enumerate(pieces(texts)):
            batch.append(item)
            if len(batch) == 256:
                flush()
        if batch:
            flush()
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "name": name,
            "source": source,
            "tokenizer": {
                "spec": tokenizer.spec,
                "vocab_size": tokenizer.vocab_size,
                "sha256": tokenizer.sha256,
                "file": "tokenizer.json" if tokenizer.json is not None else None,
            },
            "dtype": dtype.name,
        }
        manifest |= {split: writer.finish() for split, writer in splits.items()}
        if manifest["train"]["tokens"] == 0 or manifest["val"]["tokens"] == 0:
            raise DatasetUnavailable(
                f"{source}: too little text to hold out a validation split"
                f" ({nbytes} bytes; at least {VAL_EVERY} pieces of {PIECE_CHARS} characters are needed)"
            )
        if tokenizer.json is not None:
            (work / "tokenizer.json").write_text(tokenizer.json, encoding="utf-8")
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetUnavailable(f"{folder.name}: not prepared (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise DatasetCorrupt(f"{folder.name}: unreadable {MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetCorrupt(f"{folder.name}: {MANIFEST} is not an {FORMAT} manifest")
    return manifest


def check_sha256(path: Path, sha256: str) -> None:
    """A shard's bytes against its manifest's hash."""
    try:
        actual = file_sha256(path)
    except OSError as exc:
        raise DatasetCorrupt(f"{path.name}: unreadable: {exc.strerror}") from None
    if actual != sha256:
        raise DatasetCorrupt(f"{path.name}: sha256 {actual} does not match the manifest's {sha256}")


def load_shard(path: Path, *, tokens: int) -> np.ndarray:
    """One shard's tokens, memory-mapped read-only (nothing is read until used)."""
    header = np.fromfile(path, dtype=np.int32, count=HEADER_INTS)
    versions = {v: d for d, v in VERSIONS.items()}
    if len(header) < 3 or header[0] != MAGIC or int(header[1]) not in versions or header[2] != tokens:
        raise DatasetCorrupt(f"{path.name}: not a token shard of {tokens} tokens (bad header)")
    dtype = versions[int(header[1])]
    size = path.stat().st_size
    if size != HEADER_BYTES + tokens * dtype.itemsize:
        raise DatasetCorrupt(f"{path.name}: truncated ({size} bytes)")
    with path.open("rb") as handle:
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    mapping.madvise(mmap.MADV_RANDOM)  # windows are read at random: no read-ahead
    return np.frombuffer(mapping, dtype=dtype, count=tokens, offset=HEADER_BYTES)


def release(tokens: np.ndarray) -> None:
    """Unmap the pages of the file mapping under ``tokens`` from this process (they stay in the
    page cache, and come back on the next read): what keeps a node's RSS flat over a run that
    touches gigabytes of shards."""
    base: object = tokens  # array views, then the memoryview of the mapping
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    if isinstance(base, mmap.mmap):
        base.madvise(mmap.MADV_DONTNEED)


def tokenizer_of(folder: Path, manifest: dict[str, Any]) -> Tokenizer:
    info = manifest["tokenizer"]
    definition = None
    if info.get("file"):
        definition = (folder / info["file"]).read_text(encoding="utf-8")
    tokenizer = Tokenizer.from_json(info["spec"], definition)
    if tokenizer.sha256 != info["sha256"]:
        raise DatasetCorrupt(f"{folder.name}: its tokenizer does not match the manifest's sha256")
    return tokenizer
