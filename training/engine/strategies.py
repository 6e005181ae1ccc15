"""What the swarm exchanges, and how the merged update moves the global model.

sync_sgd         every step: nodes exchange gradients; the merged gradient takes the inner
                 optimizer step on every node (synchronous data parallel: the baseline)
cooperative_sgd  local SGD (Wang & Joshi): H local steps, then the nodes' weights are averaged
                 (outer step: plain SGD with lr 1 on the pseudo-gradient = averaging)
diloco           DiLoCo (Douillard et al. 2023): H local steps, then outer SGD with Nesterov
                 momentum (lr 0.7, momentum 0.9) on the merged pseudo-gradient

The pseudo-gradient of node i is  delta_i = theta_global - theta_i  after its H local steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

STRATEGIES = ("sync_sgd", "cooperative_sgd", "diloco")
_DEFAULTS = {
    "sync_sgd": {"local_steps": 1, "outer_lr": 1.0, "outer_momentum": 0.0},
    "cooperative_sgd": {"local_steps": 50, "outer_lr": 1.0, "outer_momentum": 0.0},
    "diloco": {"local_steps": 500, "outer_lr": 0.7, "outer_momentum": 0.9},
}


@dataclass(frozen=True)
class Strategy:
    """name            sync_sgd | cooperative_sgd | diloco
    local_steps        H, inner steps between rounds (sync_sgd: always 1)
    outer_lr           outer learning rate (cooperative_sgd: 1 = averaging; diloco: 0.7)
    outer_momentum     outer Nesterov momentum (diloco: 0.9; 0 turns Nesterov off)"""

    name: str
    local_steps: int
    outer_lr: float
    outer_momentum: float

    @property
    def exchanges_gradients(self) -> bool:
        return self.name == "sync_sgd"


def make_strategy(
    name: str, *, local_steps: int | None = None, outer_lr: float | None = None, outer_momentum: float | None = None
) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    knobs = dict(_DEFAULTS[name])
    if name == "sync_sgd":
        if local_steps not in (None, 1):
            raise ValueError("sync_sgd averages every step: local_steps must be 1")
    elif local_steps is not None:
        knobs["local_steps"] = local_steps
    if outer_lr is not None:
        knobs["outer_lr"] = outer_lr
    if outer_momentum is not None:
        knobs["outer_momentum"] = outer_momentum
    if knobs["local_steps"] < 1 or knobs["outer_lr"] <= 0 or not 0 <= knobs["outer_momentum"] < 1:
        raise ValueError("local_steps must be >= 1, outer_lr > 0 and outer_momentum in [0, 1)")
    return Strategy(name, int(knobs["local_steps"]), float(knobs["outer_lr"]), float(knobs["outer_momentum"]))


class OuterOptimizer:
    """Holds theta_global (flat, float32) and moves it by the merged pseudo-gradient."""

    def __init__(self, global_params: torch.Tensor, strategy: Strategy) -> None:
        self.params = global_params.detach().clone().float().requires_grad_(False)
        self.optimizer = torch.optim.SGD(
            [self.params],
            lr=strategy.outer_lr,
            momentum=strategy.outer_momentum,
            nesterov=strategy.outer_momentum > 0,
        )

    def step(self, pseudo_gradient: torch.Tensor) -> torch.Tensor:
        self.params.grad = pseudo_gradient.to(self.params.device, torch.float32)
        self.optimizer.step()
        self.params.grad = None
        return self.params
