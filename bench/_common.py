"""Shared by the benchmarks: where results go, and how a table is printed."""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from engine.config import PRESETS, ModelConfig

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def write_results(name: str, payload: Mapping[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "machine": platform.machine(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        **payload,
    }
    path.write_text(json.dumps(record, indent=2, default=str))
    print(f"\nwrote {path.relative_to(ROOT)}")
    return path


def model_config(preset: str, shape: str | None = None) -> ModelConfig:
    """A preset, or ``hidden,layers,heads,seq_len`` (e.g. 768,12,12,1024: GPT-2 small's shape)."""
    if shape is None:
        return PRESETS[preset]()
    hidden, layers, heads, seq_len = (int(part) for part in shape.split(","))
    return ModelConfig(hidden_size=hidden, num_layers=layers, num_heads=heads, seq_len=seq_len)
