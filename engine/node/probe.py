"""The held-out probe: how a node judges a proposal by the loss it would give."""

from __future__ import annotations

import copy

import torch

from engine.model import GPT
from engine.trainer import evaluate
from engine.vectors import flatten_parameters


class Probe:
    """Held-out loss of candidate weights on this node's own validation batch, in a scratch copy."""

    def __init__(self, model: GPT, batch: tuple[torch.Tensor, torch.Tensor], device: torch.device, bf16: bool) -> None:
        self.model, self.batch, self.device, self.bf16 = copy.deepcopy(model), [batch], device, bf16
        self.weights = flatten_parameters(self.model)

    def loss(self, vector: torch.Tensor) -> float:
        self.weights.copy_(vector)
        return evaluate(self.model, self.batch, device=self.device, bf16=self.bf16)[0]
