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
from engine.sharding import check_shardable, local_tensors
from engine.trainer import Trainer
from engine.vectors import buffer_like, chunks, copy_into, flatten_parameters

# propose(update, base, scale, into): run a round with ``update``; ``base - scale * update`` is
# the model a peer's update would give this node (the held-out loss probe evaluates it); the
# merged update may be written into ``into`` (a buffer of the update's size), if given.
Propose = Callable[[torch.Tensor, torch.Tensor, float, torch.Tensor | None], RoundOutcome]


class OuterOptimizer:
    """Holds theta_global (flat, float32, on the model's device) and moves it by the merged
    pseudo-gradient: SGD, with Nesterov momentum when ``outer_momentum`` > 0 (as torch's SGD
    computes it), in place and fused with loading the result into the model's weights."""

    def __init__(self, global_params: torch.Tensor, strategy: Strategy) -> None:
        self.params = global_params.detach().clone().float()
        self.lr, self.beta = strategy.outer_lr, strategy.outer_momentum
        # beta * 0 + g == g: a zero buffer takes torch's first step
        self.momentum = buffer_like(self.params) if self.beta > 0 else None

    def resume(self, momentum: torch.Tensor) -> None:
        if self.momentum is None:
            raise ValueError("this outer optimizer has no momentum to resume")
        self.momentum.copy_(momentum)

    def step(self, pseudo_gradient: torch.Tensor, weights: torch.Tensor, *, final: bool = False) -> None:
        """theta_global -= lr * (g + beta * m) with m = beta * m + g, where g is
        ``pseudo_gradient`` (overwritten: it is scratch), and the result into ``weights`` (the
        model's, flat): one pass over memory on the CPU.

        ``final``: the run's last outer step lands on the mean of the replicas (theta_global -= g,
        the momentum left as it was): Nesterov's look-ahead past the mean speeds the run while it
        goes on and overshoots at its end, where the inner learning rate has decayed
        (bench.communication, 4 nodes, int8: validation loss 1.6399 with it, 1.6252 without)."""
        if final:
            for param, grad, weight in chunks(self.params, pseudo_gradient, weights):
                param.sub_(grad)
                weight.copy_(param)
            return
        state = [self.momentum] if self.momentum is not None else []
        for param, grad, weight, *momentum in chunks(self.params, pseudo_gradient, weights, *state):
            if momentum:
                momentum[0].mul_(self.beta).add_(grad)
                grad.add_(momentum[0], alpha=self.beta)
            param.add_(grad, alpha=-self.lr)
            weight.copy_(param)


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
        self.weights = flatten_parameters(model)

    def due(self, step: int, last: bool) -> bool:
        return True

    def after_backward(self, step: int, last: bool, propose: Propose) -> RoundOutcome:
        grads = [p.grad for p in self.model.parameters()]
        lr = self.trainer.optimizer.param_groups[0]["lr"]
        outcome = propose(parameters_to_vector(grads), self.weights, lr, None)  # type: ignore[arg-type]
        if outcome.committed:
            assert outcome.aggregate is not None
            copy_into(grads, outcome.aggregate)  # type: ignore[arg-type]
            self.trainer.step()
        else:
            self.trainer.optimizer.zero_grad(set_to_none=True)
        return outcome

    def global_params(self) -> torch.Tensor:
        return self.weights


class OuterSync:
    """cooperative_sgd and diloco: H inner steps, then a round on the pseudo-gradient and the
    outer step; the node continues from the global model (kept as it was if the round failed).

    The round's vectors live in buffers allocated once: the model's weights (flattened), the
    merged update, and the pseudo-gradients. An exchange in memory lends a proposal to the peers
    until every member is done with its round (``lent(index)``), so a pseudo-gradient buffer is
    written again only once its round has let go of it; until then a new one is made.

    With ``error_feedback`` (for a lossy wire format, as in 1-bit SGD / EF-SGD), what the wire
    format rounded away from an accepted proposal is kept and added to the next one, so no
    part of a node's progress is lost for good to the quantisation."""

    def __init__(
        self,
        model: GPT,
        trainer: Trainer,
        strategy: Strategy,
        momentum: torch.Tensor | None = None,
        lent: Callable[[int], bool] = lambda index: False,
        error_feedback: bool = False,
        sharded: bool = False,
    ) -> None:
        self.trainer, self.strategy, self.lent = trainer, strategy, lent
        # A sharded model's weights (FSDP) stay FSDP's: the round works on a copy of this
        # rank's shards, read before the round and written back after it.
        self.shards = local_tensors(model) if sharded else None
        if self.shards is not None:
            self.weights = torch.cat([t.detach().reshape(-1).float() for t in self.shards])
        else:
            self.weights = flatten_parameters(model)
        self.outer = OuterOptimizer(self.weights, strategy)
        if momentum is not None:
            self.outer.resume(momentum)
        self.merged = buffer_like(self.weights)
        self.spare = [buffer_like(self.weights)]  # pseudo-gradient buffers free to write
        self.proposed: dict[int, torch.Tensor] = {}  # round index -> the buffer proposed in it
        self.residual = buffer_like(self.weights) if error_feedback else None

    @property
    def momentum(self) -> torch.Tensor | None:
        return self.outer.momentum

    def due(self, step: int, last: bool) -> bool:
        return last or (step + 1) % self.strategy.local_steps == 0

    def after_backward(self, step: int, last: bool, propose: Propose) -> RoundOutcome | None:
        self.trainer.step()
        if not self.due(step, last):
            return None
        if self.shards is not None:
            torch.cat([t.detach().reshape(-1) for t in self.shards], out=self.weights)
        delta = torch.sub(self.outer.params, self.weights, out=self._free_delta())
        if self.residual is not None:
            delta += self.residual
        outcome = propose(delta, self.outer.params, 1.0, self.merged)
        if self.residual is not None and outcome.merged_own is not None:
            torch.sub(delta, outcome.merged_own, out=self.residual)
        self.proposed[outcome.index] = delta
        if len(self.proposed) > 2:  # one lent out for long is the exchange's to keep until done
            del self.proposed[next(iter(self.proposed))]
        if outcome.committed:
            assert outcome.aggregate is not None
            self.outer.step(outcome.aggregate, self.weights, final=last)
        else:
            self.weights.copy_(self.outer.params)
        if self.shards is not None:
            copy_into(self.shards, self.weights)
        return outcome

    def _free_delta(self) -> torch.Tensor:
        self.spare += [self.proposed.pop(i) for i in list(self.proposed) if not self.lent(i)]
        return self.spare.pop() if self.spare else buffer_like(self.weights)

    def global_params(self) -> torch.Tensor:
        return self.outer.params


def make_sync(
    model: GPT,
    trainer: Trainer,
    strategy: Strategy,
    *,
    momentum: torch.Tensor | None = None,
    lent: Callable[[int], bool] = lambda index: False,
    error_feedback: bool = False,
    sharded: bool = False,
) -> GradientSync | OuterSync:
    """The strategy's Sync, which flattens the model's weights into one vector (see
    engine.vectors); ``momentum``: the outer optimizer's state to resume from, if any;
    ``lent(index)``: whether the exchange still lends out what was proposed in round ``index``;
    ``error_feedback``: carry what a lossy wire format rounds away into the next round (OuterSync);
    ``sharded``: the model is sharded over the node's ranks (engine.sharding): the outer state
    is this rank's shard of it."""
    if sharded:
        check_shardable(strategy, error_feedback=error_feedback)
    if strategy.exchanges_gradients:
        return GradientSync(model, trainer)
    return OuterSync(model, trainer, strategy, momentum, lent, error_feedback, sharded)
