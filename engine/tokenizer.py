"""Tokenizers: text to token ids, chosen per session and stored with every prepared dataset.

byte           UTF-8 bytes (vocab 256): nothing to train or load; the tiny preset's default
bpe            a byte-level BPE trained here on the dataset's own training text (``vocab_size``)
hf:<name>      a pretrained ``tokenizer.json`` from the local Hugging Face cache (never downloaded)
file:<path>    a ``tokenizer.json`` inside one of the allowed data roots

A tokenizer is its spec plus, for all but ``byte``, the ``tokenizers`` JSON that defines it; the
sha256 of that JSON identifies it in manifests and checkpoints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DatasetUnavailable, TokenizerUnavailable

BYTE = "byte"
DEFAULT_BPE_VOCAB = 4096
KINDS = "byte, bpe, hf:<name>, file:<tokenizer.json>"


@dataclass(frozen=True)
class Tokenizer:
    spec: str
    vocab_size: int
    json: str | None = field(repr=False)  # the tokenizers library's definition; None for byte

    @property
    def sha256(self) -> str:
        return hashlib.sha256((self.json or BYTE).encode()).hexdigest()

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        """The narrowest token type: llm.c's uint16 when the vocab fits, else uint32."""
        return np.uint16 if self.vocab_size <= 1 << 16 else np.uint32

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        if self.json is None:
            return [np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(self.dtype) for text in texts]
        encodings = self._backend().encode_batch(list(texts), add_special_tokens=False)
        return [np.asarray(e.ids, dtype=self.dtype) for e in encodings]

    def decode(self, ids: Sequence[int]) -> str:
        if self.json is None:
            return bytes(int(i) & 0xFF for i in ids).decode("utf-8", errors="replace")
        return str(self._backend().decode(list(ids)))

    def _backend(self) -> Any:
        cached = self.__dict__.get("_tokenizer")
        if cached is None:
            from tokenizers import Tokenizer as Backend

            cached = Backend.from_str(self.json or "")
            object.__setattr__(self, "_tokenizer", cached)
        return cached

    @classmethod
    def from_json(cls, spec: str, json: str | None) -> Tokenizer:
        """A tokenizer as stored in a manifest."""
        if json is None:
            return cls(BYTE, 256, None)
        from tokenizers import Tokenizer as Backend

        try:
            backend = Backend.from_str(json)
        except Exception as exc:  # noqa: BLE001 - the Rust side raises a bare Exception
            raise TokenizerUnavailable(f"{spec}: not a tokenizer.json: {exc}") from None
        return cls(spec, int(backend.get_vocab_size(with_added_tokens=True)), json)


def check_tokenizer_spec(spec: str) -> None:
    """The spec's syntax alone (the web request's check)."""
    kind, sep, rest = spec.partition(":")
    if spec in (BYTE, "bpe") or (sep and kind in ("hf", "file") and rest):
        return
    raise TokenizerUnavailable(f"{spec}: unknown tokenizer (use {KINDS})")


def train_bpe(texts: Iterable[str], *, vocab_size: int = DEFAULT_BPE_VOCAB) -> Tokenizer:
    """A byte-level BPE (GPT-2's pre-tokenisation, every byte in the base alphabet, so any text
    encodes) trained on ``texts``."""
    if not 257 <= vocab_size <= 1 << 20:
        raise TokenizerUnavailable(f"bpe: vocab_size must be between 257 and {1 << 20}, not {vocab_size}")
    from tokenizers import Tokenizer as Backend
    from tokenizers import decoders, models, pre_tokenizers, trainers

    backend = Backend(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    backend.train_from_iterator(texts, trainer)
    return Tokenizer("bpe", int(backend.get_vocab_size()), backend.to_str())


def load_tokenizer(spec: str, *, data_roots: Sequence[Path] = (), hf_cache: Path | None = None) -> Tokenizer:
    """A tokenizer that needs no training: ``byte``, ``hf:<name>`` or ``file:<path>``."""
    check_tokenizer_spec(spec)
    kind, _, rest = spec.partition(":")
    if spec == BYTE:
        return Tokenizer(BYTE, 256, None)
    if spec == "bpe":
        raise TokenizerUnavailable("bpe: trained on a dataset when it is prepared (ncrsh data prepare)")
    if kind == "file":
        from engine.datasets import file_paths

        try:
            paths = file_paths(rest, spec, data_roots)
        except DatasetUnavailable as exc:
            raise TokenizerUnavailable(str(exc)) from None
        if len(paths) != 1:
            raise TokenizerUnavailable(f"{spec}: names {len(paths)} files, not one tokenizer.json")
        path = paths[0]
    else:
        path = _hf_cached(spec, rest, hf_cache)
    try:
        json = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenizerUnavailable(f"{spec}: cannot read {path.name}: {exc}") from None
    return Tokenizer.from_json(spec, json)


def _hf_cached(spec: str, name: str, cache: Path | None) -> Path:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        raise TokenizerUnavailable(f"{spec}: install huggingface_hub (pip install ncrsh-swarm[hf])") from None
    found = try_to_load_from_cache(name, "tokenizer.json", cache_dir=cache)
    if not isinstance(found, str):
        raise TokenizerUnavailable(
            f"{spec}: no tokenizer.json for {name} in the local Hugging Face cache"
            f"{f' ({cache})' if cache else ''}; nothing is downloaded: fetch it beforehand"
            " (huggingface-cli download <name> tokenizer.json) or use file:<path>"
        )
    return Path(found)
