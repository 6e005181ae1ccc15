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

import torch

from training.engine.config import Strategy


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

    @property
    def momentum(self) -> torch.Tensor | None:
        buffer = self.optimizer.state.get(self.params, {}).get("momentum_buffer")
        return buffer if isinstance(buffer, torch.Tensor) else None

    @momentum.setter
    def momentum(self, buffer: torch.Tensor) -> None:
        self.optimizer.state[self.params]["momentum_buffer"] = buffer.to(self.params.device, torch.float32).clone()

    def step(self, pseudo_gradient: torch.Tensor) -> torch.Tensor:
        self.params.grad = pseudo_gradient.to(self.params.device, torch.float32)
        self.optimizer.step()
        self.params.grad = None
        return self.params
