from __future__ import annotations

import pytest

from engine.config import ModelConfig, default, tiny
from engine.memory import GIB, parameter_count, training_memory
from engine.model import build_model


@pytest.mark.parametrize(
    "model",
    [tiny(), default(), ModelConfig(hidden_size=96, num_layers=3, num_heads=6, vocab_size=1000, seq_len=40)],
    ids=["tiny", "default", "odd"],
)
def test_the_parameter_count_is_the_models_own(model: ModelConfig) -> None:
    assert parameter_count(model) == build_model(model, seed=0).num_parameters()


def test_the_need_grows_with_what_a_session_asks_for() -> None:
    base = training_memory(default(), batch_size=8, members=2, wire_dtype="float32")
    assert training_memory(default(), batch_size=16, members=2, wire_dtype="float32").activation_bytes == pytest.approx(
        2 * base.activation_bytes
    )
    more_peers = training_memory(default(), batch_size=8, members=5, wire_dtype="float32")
    assert more_peers.state_bytes - base.state_bytes == 3 * 4 * base.parameters
    int8 = training_memory(default(), batch_size=8, members=5, wire_dtype="int8")
    assert int8.state_bytes < more_peers.state_bytes
    assert "19.2M parameters" in base.describe()


def test_the_requests_that_exhausted_a_host_are_terabytes() -> None:
    # Accepted with 201 on main at dabd97c; the embedded server then allocated until stopped.
    wide = training_memory(
        ModelConfig(hidden_size=16384, num_layers=256, num_heads=128), batch_size=32, members=2, wire_dtype="float32"
    )
    long = training_memory(ModelConfig(seq_len=65536), batch_size=4096, members=2, wire_dtype="float32")
    assert wide.total_bytes > 1000 * GIB
    assert long.total_bytes > 1000 * GIB
