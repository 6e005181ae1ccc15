"""A checkpoint exported for Hugging Face loads in ``transformers`` with no custom code and
computes the engine's logits; its tokenizer gives the engine's ids (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers  # the dev extra

from engine.checkpoint import save_checkpoint
from engine.config import ModelConfig, tiny
from engine.export import FILES, export_hf
from engine.model import build_model
from engine.tokenizer import BYTE, Tokenizer, train_bpe


def _exported(tmp_path: Path, model_config: ModelConfig, tokenizer: Tokenizer) -> tuple[torch.nn.Module, Path]:
    model = build_model(model_config, seed=3)
    with torch.no_grad():  # away from the initial weights: biases and LayerNorms too
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=torch.Generator().manual_seed(param.numel())))
    path = tmp_path / "model.safetensors"
    metadata = {
        "model_config": model_config.to_dict(),
        "tokenizer": {"spec": tokenizer.spec, "vocab_size": tokenizer.vocab_size, "json": tokenizer.json},
    }
    save_checkpoint(path, model.state_dict(), metadata)
    written = export_hf(path.read_bytes(), tmp_path / "hf")
    assert sorted(p.name for p in written) == sorted(FILES)
    return model.eval(), tmp_path / "hf"


@pytest.mark.parametrize("shape", [tiny(), ModelConfig(hidden_size=48, num_layers=3, num_heads=3, seq_len=32)])
def test_transformers_computes_the_engines_logits(tmp_path: Path, shape: ModelConfig) -> None:
    model, folder = _exported(tmp_path, shape, Tokenizer(BYTE, 256, None))
    hf = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    batch = torch.randint(0, 256, (3, shape.seq_len), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, _ = model(batch)
        theirs = hf(batch).logits
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()


def test_the_exported_byte_tokenizer_gives_the_engines_ids(tmp_path: Path) -> None:
    _, folder = _exported(tmp_path, tiny(), Tokenizer(BYTE, 256, None))
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    text = "Héllo, wörld!\n  ∑ tabs\tand emoji 🙂"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids == list(text.encode("utf-8")) == Tokenizer(BYTE, 256, None).encode_batch([text])[0].tolist()
    assert tokenizer.decode(ids) == text


def test_a_bpe_tokenizer_is_exported_as_trained(tmp_path: Path) -> None:
    bpe = train_bpe(
        ["the quick brown fox jumps over the lazy dog " * 50, "lorem ipsum dolor sit amet " * 50], vocab_size=300
    )
    _, folder = _exported(
        tmp_path, ModelConfig(hidden_size=32, num_layers=1, num_heads=2, seq_len=16, vocab_size=300), bpe
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    text = "the lazy fox sits"
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == bpe.encode_batch([text])[0].tolist()
