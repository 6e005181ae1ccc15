import pytest
import torch

from engine.config import ModelConfig, default, tiny
from engine.model import build_model
from engine.vectors import params_vector


def test_the_same_seed_gives_identical_weights_and_another_seed_does_not() -> None:
    a, b, c = build_model(tiny(), seed=7), build_model(tiny(), seed=7), build_model(tiny(), seed=8)
    assert torch.equal(params_vector(a), params_vector(b))
    assert not torch.equal(params_vector(a), params_vector(c))


def test_forward_returns_logits_and_loss_near_uniform_at_init() -> None:
    model = build_model(tiny(), seed=0)
    idx, targets = torch.randint(0, 256, (2, 16)), torch.randint(0, 256, (2, 16))
    logits, loss = model(idx, targets)
    assert logits.shape == (2, 16, 256)
    assert loss is not None
    assert abs(float(loss.detach()) - torch.log(torch.tensor(256.0)).item()) < 0.5
    assert model(idx)[1] is None


def test_attention_is_causal() -> None:
    model = build_model(tiny(), seed=0).eval()
    idx = torch.randint(0, 256, (1, 12))
    changed = idx.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % 256
    with torch.no_grad():
        assert torch.allclose(model(idx)[0][0, :8], model(changed)[0][0, :8], atol=1e-6)


def test_the_default_preset_is_the_spec_model() -> None:
    config = default()
    assert (config.hidden_size, config.num_layers, config.num_heads) == (512, 6, 8)
    assert 18_000_000 < build_model(config, seed=0).num_parameters() < 20_000_000


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(hidden_size=510, num_heads=8)
    with pytest.raises(ValueError, match="longer than seq_len"):
        build_model(tiny(), seed=0)(torch.zeros(1, 65, dtype=torch.long))
