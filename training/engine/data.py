"""Text in, token batches out.

Dataset specs:
    builtin:pystdlib              the running Python's standard library sources: real text on every machine
    file:<path or glob>           .txt (or any text) files inside one of the allowed data roots
    <name>                        the folder <data_dir>/<name> of .txt files
    huggingface:<name>[/<config>] through the ``datasets`` library (its local cache, or the network)

Tokens are bytes (vocab 256): nothing to download. The token stream splits deterministically into
train (first part) and validation (last ``val_fraction``); node i of n trains on the i-th of n
contiguous, disjoint slices of the train part.
"""

from __future__ import annotations

import glob
import os
import socket
import sysconfig
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from training.engine.errors import DatasetUnavailable

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def encode(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).clone()


def decode(tokens: torch.Tensor) -> str:
    return bytes(tokens.to(torch.uint8).tolist()).decode("utf-8", errors="replace")


def _read_files(paths: Sequence[Path], spec: str, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DatasetUnavailable(f"{spec}: cannot read {path}: {exc.strerror}") from None
        chunks.append(data[: max_bytes - total])
        total += len(chunks[-1])
        if total >= max_bytes:
            break
    if total == 0:
        raise DatasetUnavailable(f"{spec}: the files hold no text")
    return b"\n".join(chunks)[:max_bytes]


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(root.resolve()) for root in roots)


def _file_paths(pattern: str, spec: str, roots: Sequence[Path]) -> list[Path]:
    if not roots:
        raise DatasetUnavailable(f"{spec}: no data roots are allowed on this node (set NCRSH_DATA_DIR)")
    if ".." in Path(pattern).parts:
        raise DatasetUnavailable(f"{spec}: '..' is not allowed in dataset paths")
    candidates = [pattern] if os.path.isabs(pattern) else [str(root / pattern) for root in roots]
    paths: list[Path] = []
    for candidate in candidates:
        paths.extend(Path(p) for p in sorted(glob.glob(candidate, recursive=True)) if Path(p).is_file())
    outside = [p for p in paths if not _inside(p, roots)]
    if outside:
        raise DatasetUnavailable(f"{spec}: {outside[0]} is outside the allowed data roots")
    if not paths:
        raise DatasetUnavailable(f"{spec}: no file matches inside the allowed data roots")
    return paths


def _pystdlib_paths() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = ("site-packages", "test", "tests", "idlelib", "lib2to3", "__pycache__")
    return [p for p in sorted(stdlib.rglob("*.py")) if not set(p.relative_to(stdlib).parts) & set(skip)]


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _huggingface(spec: str, name: str, max_bytes: int) -> bytes:
    try:
        import datasets
        from huggingface_hub import constants as hub_constants
    except ImportError:
        raise DatasetUnavailable(f"{spec}: install the 'datasets' package (pip install ncrsh-swarm[hf])") from None
    path, _, config = name.partition("/")
    if "/" in config:  # org/name/config
        path, config = f"{path}/{config.split('/')[0]}", config.split("/", 1)[1]
    # The local cache first, offline; the network only when it answers: never a hang of retries.
    offline = not _hub_reachable()
    saved = datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = offline
    try:
        dataset = datasets.load_dataset(path, config or None, split="train")
    except Exception as exc:  # noqa: BLE001 - datasets raises many unrelated types for "not here"
        where = "not in the local cache, and the hub is unreachable" if offline else "cannot be loaded"
        raise DatasetUnavailable(f"{spec}: {where}: {exc}") from None
    finally:
        datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = saved
    column = next((c for c in ("text", "content") if c in dataset.column_names), None)
    if column is None:
        raise DatasetUnavailable(f"{spec}: no 'text' column (columns: {', '.join(dataset.column_names)})")
    out = bytearray()
    for row in dataset:
        out += str(row[column]).encode("utf-8") + b"\n"
        if len(out) >= max_bytes:
            break
    return bytes(out[:max_bytes])


def load_bytes(
    spec: str,
    *,
    data_roots: Sequence[Path] = (),
    data_dir: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """Read the text a dataset spec names; ``DatasetUnavailable`` says why not."""
    kind, sep, rest = spec.partition(":")
    if not sep:
        if data_dir is None or not spec.replace("-", "").replace("_", "").isalnum():
            raise DatasetUnavailable(
                f"{spec}: unknown dataset (use builtin:pystdlib, file:<path>, huggingface:<name>"
                " or the name of a folder in NCRSH_DATA_DIR)"
            )
        folder = data_dir / spec
        paths = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if not paths:
            raise DatasetUnavailable(f"{spec}: no folder of .txt files at {folder}")
        return _read_files(paths, spec, max_bytes)
    if kind == "builtin":
        if rest != "pystdlib":
            raise DatasetUnavailable(f"{spec}: the only builtin dataset is builtin:pystdlib")
        return _read_files(_pystdlib_paths(), spec, max_bytes)
    if kind == "file":
        roots = [*data_roots, *([data_dir] if data_dir else [])]
        return _read_files(_file_paths(rest, spec, roots), spec, max_bytes)
    if kind == "huggingface":
        if not rest:
            raise DatasetUnavailable(f"{spec}: name the dataset, e.g. huggingface:wikitext/wikitext-2-raw-v1")
        return _huggingface(spec, rest, max_bytes)
    raise DatasetUnavailable(f"{spec}: unknown dataset kind {kind!r} (builtin, file, huggingface)")


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
