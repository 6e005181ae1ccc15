"""Model FLOPs utilisation: the FLOPs a model's training does per token, and the peak FLOP/s of
the device it runs on (dense bf16 tensor cores, from the vendors' data sheets)."""

from __future__ import annotations

from engine.config import ModelConfig
from engine.memory import parameter_count

# By a substring of torch.cuda.get_device_name(); the first match wins (more specific first).
PEAK_FLOPS = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("L4", 121e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("RTX 3090", 71e12),
    ("V100", 125e12),
    ("T4", 65e12),
)


def flops_per_token(model: ModelConfig) -> int:
    """6 N for the forward and backward matmuls, plus attention's 12 x layers x hidden x seq_len
    (the PaLM appendix's count)."""
    return 6 * parameter_count(model) + 12 * model.num_layers * model.hidden_size * model.seq_len


def peak_flops(device_name: str) -> float | None:
    """The device's peak FLOP/s, or None for a device not in the table (a CPU among them)."""
    return next((peak for name, peak in PEAK_FLOPS if name in device_name), None)
