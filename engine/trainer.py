"""The inner loop: one optimizer step on one batch, and evaluation."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine.config import TrainConfig
from engine.model import GPT


def lr_factor(step: int, *, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


class Trainer:
    def __init__(
        self, model: GPT, config: TrainConfig, *, total_steps: int, device: torch.device, start_step: int = 0
    ) -> None:
        self.model, self.config, self.device = model, config, device
        self.step_seconds = 0.0
        # What evaluates (the model itself), and what trains: the same, or the model under DDP
        # once the node has several ranks (``data_parallel``).
        self.inference: nn.Module = self._compiled(model)
        self.forward = self.inference
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer: torch.optim.Optimizer
        if config.inner_optimizer == "adamw":
            decay = [p for p in params if p.dim() >= 2]
            no_decay = [p for p in params if p.dim() < 2]
            self.optimizer = torch.optim.AdamW(
                [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                lr=config.learning_rate,
                betas=(0.9, 0.95),
                fused=device.type == "cuda",
            )
        else:
            self.optimizer = torch.optim.SGD(
                params, lr=config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
            )
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s + start_step, warmup=config.warmup_steps, total=total_steps)
        )

    def _compiled(self, module: nn.Module) -> nn.Module:
        return cast(nn.Module, torch.compile(module)) if self.config.compile else module

    def data_parallel(self) -> None:
        """Train under DDP from now on: the backward pass averages the gradients over the node's
        ranks (engine.ranks). Called once the model's weights have their final storage (the
        strategy flattens them). The model has no buffers and uses every parameter in each step,
        so DDP's defaults fit."""
        ids = [self.device.index] if self.device.type == "cuda" else None
        self.forward = self._compiled(DistributedDataParallel(self.model, device_ids=ids))

    def forward_backward(
        self, inputs: torch.Tensor, targets: torch.Tensor, *, measure: bool = False, weight: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Gradients of one batch into ``.grad`` (of its mean loss times ``weight``); returns the
        detached loss and, when ``measure``, the next-token accuracy, both times ``weight``.
        Reading either (a device sync) is the caller's choice."""
        inputs, targets = inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)
        self.model.train()
        with torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda" and self.config.bf16
        ):
            logits, loss = self.forward(inputs, targets)
        assert loss is not None
        if weight != 1.0:
            loss = loss * weight
        loss.backward()
        accuracy = (logits.detach().argmax(-1) == targets).float().mean() * weight if measure else None
        return loss.detach(), accuracy

    def step(self) -> None:
        """Clip, step and clear: the gradients may have been replaced by the swarm's (sync_sgd).
        Its wall time adds up in ``step_seconds`` (a round that calls it need not count it)."""
        started = time.perf_counter()
        if self.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.step()
        self.step_seconds += time.perf_counter() - started

    def evaluate(self, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
        return evaluate(self.inference, batches, device=self.device, bf16=self.config.bf16)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    device: torch.device,
    bf16: bool = True,
) -> tuple[float, float]:
    """Mean loss and next-token accuracy over fixed batches."""
    model.eval()
    losses, accuracies = [], []
    for inputs, targets in batches:
        inputs, targets = inputs.to(device), targets.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" and bf16):
            logits, loss = model(inputs, targets)
        assert loss is not None
        losses.append(float(loss))
        accuracies.append(float((logits.argmax(-1) == targets).float().mean()))
    return sum(losses) / len(losses), sum(accuracies) / len(accuracies)
