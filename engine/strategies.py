"""What the swarm exchanges, when, and how the merged update moves the model.

sync_sgd         every step: nodes exchange gradients; the merged gradient takes the inner
                 optimizer step on every node (synchronous data parallel: the baseline)
cooperative_sgd  local SGD (Wang & Joshi): H local steps, then the nodes' weights are averaged
                 (outer step: plain SGD with lr 1 on the pseudo-gradient = averaging)
diloco           DiLoCo (Douillard et al. 2023): H local steps, then outer SGD with Nesterov
                 momentum (lr 0.7, momentum 0.9) on the merged pseudo-gradient

The pseudo-gradient of node i is  delta_i = theta_global - theta_i  after its H local steps.

Each strategy is a ``Sync``: ``due`` says whether a step ends in a round; after every backward
pass the node calls ``after_backward``, which takes the inner step and, when a round is due,
forms the proposal, has the node run the round (``propose``) and applies its outcome.
Everything stays on the model's device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch.nn.utils import parameters_to_vector

from engine.config import Strategy
from engine.model import GPT
from engine.rounds import RoundOutcome
from engine.trainer import Trainer

# propose(update, base, scale): run a round with ``update``; ``base - scale * update`` is the
# model a peer's update would give this node (the held-out loss probe evaluates it).
Propose = Callable[[torch.Tensor, torch.Tensor, float], RoundOutcome]


def params_vector(model: GPT) -> torch.Tensor:
    return parameters_to_vector(model.parameters()).detach().float()


def copy_into(tensors: list[torch.Tensor], vector: torch.Tensor) -> None:
    """Copy a flat vector into tensors (torch's vector_to_parameters would alias them to it)."""
    offset = 0
    with torch.no_grad():
        for tensor in tensors:
            tensor.copy_(vector[offset : offset + tensor.numel()].view_as(tensor))
            offset += tensor.numel()


class OuterOptimizer:
    """Holds theta_global (flat, float32, on the model's device) and moves it by the merged
    pseudo-gradient."""

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


class Sync(Protocol):
    def due(self, step: int, last: bool) -> bool:
        """Whether inner step ``step`` (``last``: the run's last) ends in a round."""

    def after_backward(self, step: int, last: bool, propose: Propose) -> RoundOutcome | None:
        """Take this step's optimizer step, running a round first or after it if one is due."""

    def global_params(self) -> torch.Tensor:
        """The swarm's weights as this node holds them (what the rounds' base hash names)."""

    @property
    def momentum(self) -> torch.Tensor | None:
        """The outer optimizer's state, if the strategy has one (part of the swarm's state)."""


class GradientSync:
    """sync_sgd: every step's gradient is the proposal; the merged one takes the inner step
    (a failed round skips the step)."""

    momentum = None

    def __init__(self, model: GPT, trainer: Trainer) -> None:
        self.model, self.trainer = model, trainer

    def due(self, step: int, last: bool) -> bool:
        return True

    def after_backward(self, step: int, last: bool, propose: Propose) -> RoundOutcome:
        grads = [p.grad for p in self.model.parameters()]
        lr = self.trainer.optimizer.param_groups[0]["lr"]
        outcome = propose(parameters_to_vector(grads), self.global_params(), lr)  # type: ignore[arg-type]
        if outcome.committed:
            assert outcome.aggregate is not None
            copy_into(grads, outcome.aggregate)  # type: ignore[arg-type]
            self.trainer.step()
        else:
            self.trainer.optimizer.zero_grad(set_to_none=True)
        return outcome

    def global_params(self) -> torch.Tensor:
        return params_vector(self.model)


class OuterSync:
    """cooperative_sgd and diloco: H inner steps, then a round on the pseudo-gradient and the
    outer step; the node continues from the global model (kept as it was if the round failed)."""

    def __init__(self, model: GPT, trainer: Trainer, strategy: Strategy, momentum: torch.Tensor | None = None) -> None:
        self.model, self.trainer, self.strategy = model, trainer, strategy
        self.outer = OuterOptimizer(params_vector(model), strategy)
        if momentum is not None:
            self.outer.momentum = momentum

    @property
    def momentum(self) -> torch.Tensor | None:
        return self.outer.momentum

    def due(self, step: int, last: bool) -> bool:
        return last or (step + 1) % self.strategy.local_steps == 0

    def after_backward(self, step: int, last: bool, propose: Propose) -> RoundOutcome | None:
        self.trainer.step()
        if not self.due(step, last):
            return None
        delta = self.outer.params - params_vector(self.model)
        outcome = propose(delta, self.outer.params, 1.0)
        if outcome.committed:
            assert outcome.aggregate is not None
            self.outer.step(outcome.aggregate)
        copy_into(list(self.model.parameters()), self.outer.params)
        return outcome

    def global_params(self) -> torch.Tensor:
        return self.outer.params


def make_sync(
    model: GPT, trainer: Trainer, strategy: Strategy, *, momentum: torch.Tensor | None = None
) -> GradientSync | OuterSync:
    """The strategy's Sync; ``momentum``: the outer optimizer's state to resume from, if any."""
    if strategy.exchanges_gradients:
        return GradientSync(model, trainer)
    return OuterSync(model, trainer, strategy, momentum)
