"""A checkpoint as a Hugging Face model folder: ``transformers`` loads it with
``AutoModelForCausalLM.from_pretrained`` and no custom code (the model is GPT-2 shaped: learned
positions, pre-LayerNorm blocks, exact-GELU MLP, output tied to the token embedding), and
``AutoTokenizer`` loads its tokenizer (the byte vocabulary as a byte-level tokenizer with no
merges: the same ids). NumPy and safetensors only: the web process exports without torch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save_file

from engine.config import ModelConfig
from engine.files import header_metadata

FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")

# Ours -> GPT-2's; a Linear's weight is (out, in), GPT-2's Conv1D's (in, out): transposed.
_BLOCK = {
    "ln_1.weight": ("ln_1.weight", False),
    "ln_1.bias": ("ln_1.bias", False),
    "attn.qkv.weight": ("attn.c_attn.weight", True),
    "attn.qkv.bias": ("attn.c_attn.bias", False),
    "attn.proj.weight": ("attn.c_proj.weight", True),
    "attn.proj.bias": ("attn.c_proj.bias", False),
    "ln_2.weight": ("ln_2.weight", False),
    "ln_2.bias": ("ln_2.bias", False),
    "mlp.0.weight": ("mlp.c_fc.weight", True),
    "mlp.0.bias": ("mlp.c_fc.bias", False),
    "mlp.2.weight": ("mlp.c_proj.weight", True),
    "mlp.2.bias": ("mlp.c_proj.bias", False),
}
_TOP = {"tok_emb.weight": "transformer.wte.weight", "pos_emb.weight": "transformer.wpe.weight"}
_TOP |= {"ln_f.weight": "transformer.ln_f.weight", "ln_f.bias": "transformer.ln_f.bias"}


def hf_tensors(state: Mapping[str, np.ndarray], model: ModelConfig) -> dict[str, np.ndarray]:
    """The model's weights under GPT-2's names (the tied output projection is not repeated)."""
    out = {hf: np.ascontiguousarray(state[ours], dtype=np.float32) for ours, hf in _TOP.items()}
    for i in range(model.num_layers):
        for ours, (hf, transpose) in _BLOCK.items():
            tensor = np.asarray(state[f"blocks.{i}.{ours}"], dtype=np.float32)
            out[f"transformer.h.{i}.{hf}"] = np.ascontiguousarray(tensor.T if transpose else tensor)
    return out


def hf_config(model: ModelConfig) -> dict[str, Any]:
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": model.vocab_size,
        "n_positions": model.seq_len,
        "n_embd": model.hidden_size,
        "n_layer": model.num_layers,
        "n_head": model.num_heads,
        "n_inner": 4 * model.hidden_size,
        "activation_function": "gelu",  # exact GELU, as nn.GELU(); GPT-2's own is the tanh one
        "layer_norm_epsilon": 1e-5,
        "resid_pdrop": model.dropout,
        "embd_pdrop": model.dropout,
        "attn_pdrop": model.dropout,
        "scale_attn_weights": True,
        "tie_word_embeddings": True,
        "bos_token_id": None,
        "eos_token_id": None,
        "torch_dtype": "float32",
    }


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: each byte as a printable character."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def byte_tokenizer_json() -> str:
    """The byte vocabulary as a ``tokenizers`` byte-level BPE without merges: UTF-8 byte b is id b."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {char: byte for byte, char in _bytes_to_unicode().items()}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    return str(tokenizer.to_str())


def export_hf(checkpoint: bytes, out: Path) -> list[Path]:
    """Write the Hugging Face folder of a checkpoint's bytes (verified by the caller) into
    ``out``; the files written."""
    metadata = header_metadata(checkpoint)
    model = ModelConfig(**metadata["model_config"])
    tokenizer = metadata.get("tokenizer") or {}
    out.mkdir(parents=True, exist_ok=True)
    save_file(hf_tensors(st_load(checkpoint), model), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(hf_config(model), indent=2))
    (out / "generation_config.json").write_text(json.dumps({"do_sample": True, "max_length": model.seq_len}))
    (out / "tokenizer.json").write_text(tokenizer.get("json") or byte_tokenizer_json())
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "model_max_length": model.seq_len,
                "clean_up_tokenization_spaces": False,
                "ncrsh_tokenizer": tokenizer.get("spec", "byte"),
            },
            indent=2,
        )
    )
    return [out / name for name in FILES]
