import pickle
from pathlib import Path

import pytest
import torch

from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.config import tiny
from engine.errors import CheckpointCorrupt
from engine.files import file_sha256
from engine.model import build_model

METADATA = {"model_config": tiny().to_dict(), "session": "training_1", "round": 3, "step": 60}


def test_a_checkpoint_round_trips_with_its_metadata(tmp_path: Path) -> None:
    state = build_model(tiny(), seed=1).state_dict()
    digest = save_checkpoint(tmp_path / "m.safetensors", state, METADATA)
    assert digest == file_sha256(tmp_path / "m.safetensors")
    loaded = load_checkpoint(tmp_path / "m.safetensors", sha256=digest)
    assert loaded.metadata == METADATA
    assert all(torch.equal(loaded.tensors[k], v) for k, v in state.items())
    assert list(tmp_path.iterdir()) == [tmp_path / "m.safetensors"]  # no temporary file left


def test_a_flipped_byte_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    digest = save_checkpoint(path, {"w": torch.ones(64)}, METADATA)
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointCorrupt, match="does not match"):
        load_checkpoint(path, sha256=digest)


def test_a_pickle_is_corrupt_even_with_its_own_hash(tmp_path: Path) -> None:
    path = tmp_path / "evil.safetensors"
    with path.open("wb") as handle:
        pickle.dump({"w": torch.ones(3)}, handle)
    with pytest.raises(CheckpointCorrupt, match="not a safetensors checkpoint"):
        load_checkpoint(path, sha256=file_sha256(path))


def test_a_missing_file_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CheckpointCorrupt, match="unreadable"):
        load_checkpoint(tmp_path / "gone.safetensors", sha256="0" * 64)
