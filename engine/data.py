"""Text in, token batches out.

Tokens are bytes (vocab 256): nothing to download. The token stream splits deterministically into
train (first part) and validation (last ``val_fraction``); node i of n trains on the i-th of n
contiguous, disjoint slices of the train part. Dataset specs are read by ``datasets.load_bytes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from engine.errors import DatasetUnavailable


def encode(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).clone()


def decode(tokens: torch.Tensor) -> str:
    return bytes(tokens.to(torch.uint8).tolist()).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Corpus:
    train: torch.Tensor  # (N,) uint8
    val: torch.Tensor

    @classmethod
    def from_bytes(cls, data: bytes, *, val_fraction: float = 0.1) -> Corpus:
        tokens = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        cut = int(len(tokens) * (1.0 - val_fraction))
        return cls(train=tokens[:cut].clone(), val=tokens[cut:].clone())

    def shard(self, rank: int, world: int) -> torch.Tensor:
        """Node ``rank`` of ``world``: its own contiguous, disjoint slice of the train tokens."""
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in 0..{world - 1}")
        size = len(self.train) // world
        return self.train[rank * size : (rank + 1) * size]


class Batches:
    """Random windows of ``seq_len + 1`` tokens from a token stream; one epoch = as many tokens
    as the stream holds. Deterministic for a seed, so a node that restarts replays the same data."""

    def __init__(self, tokens: torch.Tensor, *, batch_size: int, seq_len: int, seed: int) -> None:
        if len(tokens) <= seq_len + 1:
            raise DatasetUnavailable(f"the shard holds {len(tokens)} tokens, fewer than one sequence of {seq_len}")
        self.tokens, self.batch_size, self.seq_len = tokens, batch_size, seq_len
        self.generator = torch.Generator().manual_seed(seed)
        self.steps_per_epoch = max(1, len(tokens) // (batch_size * seq_len))
        self.step = 0

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    @property
    def batch_progress(self) -> float:
        """How far through the current epoch, 0-1."""
        return (self.step % self.steps_per_epoch) / self.steps_per_epoch

    def skip(self, steps: int) -> None:
        """Advance as if ``steps`` batches had been drawn (a node resuming mid-session)."""
        for _ in range(steps):
            torch.randint(0, len(self.tokens) - self.seq_len - 1, (self.batch_size,), generator=self.generator)
        self.step += steps

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(0, len(self.tokens) - self.seq_len - 1, (self.batch_size,), generator=self.generator)
        windows = torch.stack([self.tokens[s : s + self.seq_len + 1] for s in starts.tolist()]).long()
        self.step += 1
        return windows[:, :-1], windows[:, 1:]  # inputs (B, T), targets (B, T)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.next()


def validation_batches(
    tokens: torch.Tensor, *, batch_size: int, seq_len: int, max_batches: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed, evenly spaced windows of the validation split: the same on every node."""
    count = min(max_batches * batch_size, max(1, (len(tokens) - 1) // seq_len))
    stride = max(1, (len(tokens) - seq_len - 1) // max(1, count))
    starts = [i * stride for i in range(count)]
    windows = torch.stack([tokens[s : s + seq_len + 1] for s in starts]).long()
    return [(windows[i : i + batch_size, :-1], windows[i : i + batch_size, 1:]) for i in range(0, count, batch_size)]
