"""The inner loop: one optimizer step on one batch, and evaluation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import torch
from torch import nn

from training.engine.model import GPT


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of the inner loop.

    batch_size       sequences per node per step
    learning_rate    peak inner learning rate
    epochs           passes over the node's shard (ignored when max_steps is set)
    max_steps        inner steps per node; overrides epochs
    warmup_steps     linear warm-up, then cosine decay to 10% of the peak
    weight_decay     AdamW's decoupled weight decay (SGD: L2)
    grad_clip        global gradient-norm clip; None turns it off
    inner_optimizer  adamw (the default) or sgd (linear in the gradient: what makes
                     cooperative_sgd with H=1 equal sync_sgd exactly)
    momentum         SGD momentum
    seed             model initialisation and data order (the same on every node for the model)
    compile          torch.compile the model
    log_every        report progress every this many steps
    eval_batches     validation batches for held-out loss
    """

    batch_size: int = 32
    learning_rate: float = 1e-3
    epochs: int = 1
    max_steps: int | None = None
    warmup_steps: int = 20
    weight_decay: float = 0.1
    grad_clip: float | None = 1.0
    inner_optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = 0.0
    seed: int = 0
    compile: bool = False
    log_every: int = 10
    eval_batches: int = 8

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.learning_rate <= 0 or self.epochs < 1:
            raise ValueError("batch_size and epochs must be at least 1, learning_rate positive")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if self.inner_optimizer not in ("adamw", "sgd"):
            raise ValueError(f"inner_optimizer must be adamw or sgd, got {self.inner_optimizer!r}")

    def total_steps(self, steps_per_epoch: int) -> int:
        return self.max_steps if self.max_steps is not None else self.epochs * steps_per_epoch


def lr_factor(step: int, *, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


class Trainer:
    def __init__(self, model: GPT, config: TrainConfig, *, total_steps: int, device: torch.device) -> None:
        self.model, self.config, self.device = model, config, device
        self.forward: nn.Module = cast(nn.Module, torch.compile(model)) if config.compile else model
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
            self.optimizer, lambda s: lr_factor(s, warmup=config.warmup_steps, total=total_steps)
        )

    def forward_backward(
        self, inputs: torch.Tensor, targets: torch.Tensor, *, measure: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Gradients of one batch into ``.grad``; returns the detached loss and, when ``measure``,
        the next-token accuracy. Reading either (a device sync) is the caller's choice."""
        inputs, targets = inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)
        self.model.train()
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            logits, loss = self.forward(inputs, targets)
        assert loss is not None
        loss.backward()
        accuracy = (logits.detach().argmax(-1) == targets).float().mean() if measure else None
        return loss.detach(), accuracy

    def step(self) -> None:
        """Clip, step and clear: the gradients may have been replaced by the swarm's (sync_sgd)."""
        if self.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.step()

    def evaluate(self, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
        return evaluate(self.forward, batches, device=self.device)


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]], *, device: torch.device
) -> tuple[float, float]:
    """Mean loss and next-token accuracy over fixed batches."""
    model.eval()
    losses, accuracies = [], []
    for inputs, targets in batches:
        inputs, targets = inputs.to(device), targets.to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits, loss = model(inputs, targets)
        assert loss is not None
        losses.append(float(loss))
        accuracies.append(float((logits.argmax(-1) == targets).float().mean()))
    return sum(losses) / len(losses), sum(accuracies) / len(accuracies)
