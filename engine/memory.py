"""What a node needs in memory to train a model: checked before a session starts (admission
control), so a request for a model or a batch no node can hold is refused with the figures
instead of exhausting a host. An estimate that errs high (float32 throughout, attention
probabilities materialised as the CPU's math kernel does), not a measurement."""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import ModelConfig, byte_length

GIB = 1 << 30


def parameter_count(model: ModelConfig) -> int:
    """The GPT's parameters without building it: token and position embeddings (the output
    projection is tied to the first), per block two LayerNorms, qkv, the attention projection
    and the 4x MLP (12 d^2 + 13 d), and the final LayerNorm."""
    d = model.hidden_size
    return (model.vocab_size + model.seq_len) * d + model.num_layers * (12 * d * d + 13 * d) + 2 * d


@dataclass(frozen=True)
class MemoryNeed:
    parameters: int
    state_bytes: int  # weights, gradients, optimizer and outer state, the round's update buffers
    activation_bytes: int  # what one training step keeps for its backward pass, logits included

    @property
    def total_bytes(self) -> int:
        return self.state_bytes + self.activation_bytes

    def describe(self) -> str:
        return (
            f"about {self.total_bytes / GIB:.1f} GiB per node ({self.parameters / 1e6:,.1f}M parameters:"
            f" {self.state_bytes / GIB:.1f} GiB of weights, gradients, optimizer and exchange state;"
            f" {self.activation_bytes / GIB:.1f} GiB of activations at this batch size and sequence length)"
        )


def training_memory(model: ModelConfig, *, batch_size: int, members: int, wire_dtype: str) -> MemoryNeed:
    parameters = parameter_count(model)
    fp32 = 4 * parameters
    # weights, gradients, AdamW's two moments, the global weights and outer momentum, the
    # node's update and the aggregate, and its error-feedback residual: 9 float32 copies; plus
    # the peers' updates as they arrive, in the wire format.
    state = 9 * fp32 + max(0, members - 1) * byte_length(wire_dtype, parameters)
    b, t, d, h = batch_size, model.seq_len, model.hidden_size, model.num_heads
    per_layer = 16 * b * t * d + 2 * b * h * t * t  # saved tensors of a block; attention probabilities
    logits = 3 * b * t * model.vocab_size  # logits, their float copy, their gradient
    return MemoryNeed(parameters, state, 4 * (model.num_layers * per_layer + logits))
