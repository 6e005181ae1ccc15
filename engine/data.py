"""Token streams in, batches out.

A ``Corpus`` is a train and a validation ``TokenStream`` and the tokenizer that made them: a
prepared dataset's memory-mapped shards (``Corpus.open``: nothing is read into RAM), or text
held in memory as bytes (``Corpus.from_bytes``: tests and benchmarks). Node i of n trains on
blocks i, i+n, i+2n... of the train split: disjoint, and spread over the whole text. ``Batches``
walks them in an order computed from (seed, step) alone, so a node resumes at any step in O(1),
exactly where it stopped. Quality is reported in bits per byte of held-out text, whatever the tokenizer.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.errors import DatasetUnavailable
from engine.shards import check_sha256, load_shard, read_manifest, release, tokenizer_of
from engine.tokenizer import BYTE, Tokenizer


class TokenStream:
    """Tokens of several arrays (shards, or blocks of them) read as one sequence."""

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        self.parts = [p for p in parts if len(p)]
        self.ends = list(np.cumsum([len(p) for p in self.parts], dtype=np.int64).tolist())

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def read(self, offset: int, count: int) -> np.ndarray:
        """``count`` tokens from ``offset`` (a copy, across shard ends if need be)."""
        if offset < 0 or offset + count > len(self):
            raise IndexError(f"tokens {offset}..{offset + count} are outside 0..{len(self)}")
        out, part = [], bisect.bisect_right(self.ends, offset)
        while count:
            start = offset - (self.ends[part - 1] if part else 0)
            piece = self.parts[part][start : start + count]
            out.append(piece)
            offset, count, part = offset + len(piece), count - len(piece), part + 1
        return np.concatenate(out) if len(out) > 1 else np.array(out[0])

    def release(self) -> None:
        """Drop the pages read so far from this process's memory (see ``shards.release``)."""
        for part in self.parts:
            release(part)

    def slice(self, lo: int, hi: int) -> TokenStream:
        parts, start = [], 0
        for part, end in zip(self.parts, self.ends, strict=True):
            if end > lo and start < hi:
                parts.append(part[max(lo, start) - start : min(hi, end) - start])
            start = end
        return TokenStream(parts)


@dataclass(frozen=True)
class Corpus:
    train: TokenStream
    val: TokenStream
    tokenizer: Tokenizer
    val_bytes: int  # UTF-8 bytes of the held-out text the val tokens encode
    # Checks the shards under a train token range before they are read (a prepared dataset's sha256s).
    verify: Callable[[int, int], None] = field(default=lambda lo, hi: None, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes, *, val_fraction: float = 0.1) -> Corpus:
        """Raw bytes as byte tokens: the first part trains, the last ``val_fraction`` validates."""
        tokens = np.frombuffer(data, dtype=np.uint8)
        cut = int(len(tokens) * (1.0 - val_fraction))
        byte = Tokenizer(BYTE, 256, None)
        return cls(TokenStream([tokens[:cut]]), TokenStream([tokens[cut:]]), byte, len(data) - cut)

    @classmethod
    def open(cls, folder: Path) -> Corpus:
        """A prepared dataset (``engine.shards``): its shards memory-mapped, the validation
        shards checked against the manifest now, each train shard once, when a node first takes
        blocks in it."""
        manifest = read_manifest(folder)
        tokenizer = tokenizer_of(folder, manifest)
        for shard in manifest["val"]["shards"]:
            check_sha256(folder / shard["file"], shard["sha256"])

        def shards(split: str) -> list[np.ndarray]:
            return [load_shard(folder / s["file"], tokens=int(s["tokens"])) for s in manifest[split]["shards"]]

        listed = manifest["train"]["shards"]
        starts = [0, *np.cumsum([int(s["tokens"]) for s in listed]).tolist()]
        unchecked = set(range(len(listed)))

        def verify(lo: int, hi: int) -> None:
            for index in sorted(unchecked):
                if starts[index + 1] > lo and starts[index] < hi:
                    check_sha256(folder / listed[index]["file"], listed[index]["sha256"])
                    unchecked.discard(index)

        val = TokenStream(shards("val"))
        return cls(TokenStream(shards("train")), val, tokenizer, int(manifest["val"]["bytes"]), verify)

    @property
    def bytes_per_token(self) -> float:
        return self.val_bytes / max(1, len(self.val))

    def bits_per_byte(self, loss: float) -> float:
        """A loss in nats per token as bits per byte of text: comparable across tokenizers."""
        return loss / math.log(2) / self.bytes_per_token

    def shard(self, rank: int, world: int) -> TokenStream:
        """Node ``rank`` of ``world``: every ``world``-th block of the train tokens from its
        ``rank``-th on (as ``split_dataset_by_node`` deals a stream), so that every node sees text
        from all over the dataset; nodes never share a token."""
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in 0..{world - 1}")
        block = block_size(len(self.train), world)
        starts = range(rank * block, len(self.train) - block + 1, world * block)
        if starts:
            self.verify(starts[0], starts[-1] + block)
        return TokenStream([p for s in starts for p in self.train.slice(s, s + block).parts])


def block_size(tokens: int, world: int) -> int:
    """At least 64 blocks per node to mix the text, blocks of 4k-1M tokens."""
    return max(1 << 12, min(1 << 20, tokens // (world * 64)))


def _mix(x: np.ndarray, key: int) -> np.ndarray:
    """splitmix64's finaliser of ``x + key``: a well-mixed 64-bit hash (wrapping arithmetic)."""
    z = x + np.uint64(key)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def permute(indices: np.ndarray, size: int, keys: Sequence[int]) -> np.ndarray:
    """A pseudo-random bijection of [0, size), computed for any index alone: a Feistel network on
    the smallest power of four that holds ``size``, walked back into range (cycle walking)."""
    half = max(1, ((size - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    out = indices.astype(np.uint64)
    outside = np.ones(len(out), dtype=bool)
    with np.errstate(over="ignore"):
        while outside.any():
            left, right = out[outside] >> np.uint64(half), out[outside] & mask
            for key in keys:
                left, right = right, left ^ (_mix(right, key) & mask)
            out[outside] = (left << np.uint64(half)) | right
            outside = out >= np.uint64(size)
    return out


class Batches:
    """Windows of ``seq_len + 1`` tokens from a stream, every window once per epoch in an order
    fixed by the seed: epoch e's i-th sample is window ``permute(i)`` (a keyed Feistel bijection,
    new keys each epoch) shifted by ``s_e`` tokens. The batch at any step is computed directly:
    resuming is O(1). Every ``RELEASE_EVERY`` windows the pages read are released (a
    memory-mapped stream)."""

    RELEASE_EVERY = 1024  # windows: each maps in up to 64 KB of file (the kernel's fault-around): <= 64 MB

    def __init__(self, tokens: TokenStream, *, batch_size: int, seq_len: int, seed: int, start_step: int = 0) -> None:
        # One window of room at the end, for the epoch's shift.
        self.windows = (len(tokens) - 1) // seq_len - 1
        if self.windows < 1:
            raise DatasetUnavailable(
                f"the shard holds {len(tokens)} tokens, too few for two sequences of {seq_len} tokens"
            )
        self.tokens, self.batch_size, self.seq_len, self.seed = tokens, batch_size, seq_len, seed
        self.steps_per_epoch = max(1, self.windows // batch_size)
        self.step, self.unreleased = start_step, 0
        self._orders: dict[int, tuple[list[int], int]] = {}

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    @property
    def batch_progress(self) -> float:
        """How far through the current epoch, 0-1."""
        return (self.step % self.steps_per_epoch) / self.steps_per_epoch

    def _order(self, epoch: int) -> tuple[list[int], int]:
        """Epoch ``epoch``'s Feistel keys and shift."""
        if epoch not in self._orders:
            rng = np.random.default_rng([self.seed, epoch])
            keys = [int(k) for k in rng.integers(0, 2**63, size=4)]
            self._orders = {epoch: (keys, int(rng.integers(self.seq_len)))}
        return self._orders[epoch]

    def offsets(self, step: int) -> list[int]:
        """Where (in the stream) each window of the batch at ``step`` starts."""
        samples = np.arange(step * self.batch_size, (step + 1) * self.batch_size)
        epochs, indices = np.divmod(samples, self.windows)
        out: list[int] = []
        for epoch in np.unique(epochs).tolist():
            keys, shift = self._order(epoch)
            windows = permute(indices[epochs == epoch], self.windows, keys)
            out += (windows.astype(np.int64) * self.seq_len + shift).tolist()
        return out

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        length = self.seq_len + 1
        windows = np.stack([self.tokens.read(o, length) for o in self.offsets(self.step)]).astype(np.int64)
        self.step += 1
        self.unreleased += self.batch_size
        if self.unreleased >= self.RELEASE_EVERY:
            self.tokens.release()
            self.unreleased = 0
        batch = torch.from_numpy(windows)
        return batch[:, :-1], batch[:, 1:]  # inputs (B, T), targets (B, T)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.next()


def validation_batches(
    tokens: TokenStream, *, batch_size: int, seq_len: int, max_batches: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed, evenly spaced windows of the validation split: the same on every node."""
    if len(tokens) <= seq_len + 1:
        raise DatasetUnavailable(f"the validation split holds {len(tokens)} tokens, fewer than one sequence")
    count = min(max_batches * batch_size, max(1, (len(tokens) - 1) // seq_len))
    stride = max(1, (len(tokens) - seq_len - 1) // max(1, count))
    windows = torch.from_numpy(np.stack([tokens.read(i * stride, seq_len + 1) for i in range(count)]).astype(np.int64))
    return [(windows[i : i + batch_size, :-1], windows[i : i + batch_size, 1:]) for i in range(0, count, batch_size)]
