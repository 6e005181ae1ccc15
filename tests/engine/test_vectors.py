"""Flat weights, the fused outer step and the round's reused buffers."""

from __future__ import annotations

import pytest
import torch

from engine.aggregation import aggregate
from engine.config import AggregatorConfig, ModelConfig, Policy, TrainConfig, make_strategy
from engine.errors import AggregatorBoundError
from engine.exchange import InMemoryExchange, MemoryStore
from engine.model import build_model
from engine.quorum import accept_all
from engine.rounds import RoundContext, RoundOutcome
from engine.strategies import OuterOptimizer, OuterSync, Propose
from engine.trainer import Trainer
from engine.vectors import CPU_CHUNK, chunks, flatten_parameters, params_vector
from engine.wire import pack, unpack

TINY = ModelConfig(vocab_size=64, hidden_size=32, num_layers=2, num_heads=2, seq_len=16)


def test_flattened_parameters_are_views_of_one_vector(device: torch.device) -> None:
    model = build_model(TINY, seed=3).to(device)
    before = params_vector(model)
    flat = flatten_parameters(model)
    assert torch.equal(flat, before)
    first = next(model.parameters())
    first.data.add_(1.0)  # a write through a parameter is a write into the vector
    assert flat[0] == before[0] + 1.0
    flat.zero_()
    assert all(float(p.detach().abs().sum()) == 0.0 for p in model.parameters())
    # load_state_dict copies into the views: the vector follows
    model.load_state_dict(build_model(TINY, seed=3).state_dict())
    assert torch.equal(flat, before.to(device))


def test_an_inner_step_moves_the_flat_vector(device: torch.device) -> None:
    model = build_model(TINY, seed=0).to(device)
    flat = flatten_parameters(model)
    before = flat.clone()
    trainer = Trainer(model, TrainConfig(batch_size=2, warmup_steps=1), total_steps=4, device=device)
    tokens = torch.randint(0, TINY.vocab_size, (2, TINY.seq_len + 1))
    trainer.forward_backward(tokens[:, :-1], tokens[:, 1:])
    trainer.step()
    assert not torch.equal(flat, before)
    assert torch.equal(flat, params_vector(model))


@pytest.mark.parametrize("numel", [1, CPU_CHUNK - 1, CPU_CHUNK, 2 * CPU_CHUNK + 5])
def test_chunks_cover_every_element_once(numel: int) -> None:
    a, b = torch.zeros(numel), torch.arange(numel, dtype=torch.float32)
    pieces = list(chunks(a, b))
    for x, y in pieces:
        x += y + 1
    assert torch.equal(a, b + 1)
    assert len(pieces) == -(-numel // CPU_CHUNK)


@pytest.mark.parametrize("strategy", ["diloco", "cooperative_sgd"])
def test_the_fused_outer_step_is_torchs_sgd(strategy: str, device: torch.device) -> None:
    """Three outer steps match torch.optim.SGD (Nesterov where there is momentum), and the
    model's weights get the result."""
    chosen = make_strategy(strategy)
    start = torch.randn(2 * CPU_CHUNK + 7, device=device)
    ours, weights = OuterOptimizer(start, chosen), torch.zeros_like(start)
    reference = start.clone()
    torch_sgd = torch.optim.SGD(
        [reference], lr=chosen.outer_lr, momentum=chosen.outer_momentum, nesterov=chosen.outer_momentum > 0
    )
    for seed in range(3):
        grad = torch.randn(start.numel(), generator=torch.Generator().manual_seed(seed)).to(device)
        reference.grad = grad.clone()
        torch_sgd.step()
        ours.step(grad, weights)
        torch.testing.assert_close(ours.params, reference, rtol=1e-6, atol=1e-6)
        assert torch.equal(weights, ours.params)
    if chosen.outer_momentum > 0:
        assert ours.momentum is not None  # created zero, and torch's first step is the same
        torch.testing.assert_close(ours.momentum, torch_sgd.state[reference]["momentum_buffer"])
    else:
        assert ours.momentum is None


def test_the_final_outer_step_lands_on_the_mean_and_leaves_the_momentum(device: torch.device) -> None:
    start = torch.randn(2 * CPU_CHUNK + 7, device=device)
    ours, weights = OuterOptimizer(start, make_strategy("diloco")), torch.zeros_like(start)
    ours.step(torch.randn_like(start), weights)
    assert ours.momentum is not None
    base, momentum, grad = ours.params.clone(), ours.momentum.clone(), torch.randn_like(start)
    ours.step(grad.clone(), weights, final=True)
    torch.testing.assert_close(ours.params, base - grad)  # the replicas' mean: no look-ahead, lr 1
    assert torch.equal(weights, ours.params)
    assert torch.equal(ours.momentum, momentum)


def test_the_mean_writes_into_the_callers_buffer_and_still_refuses_nan() -> None:
    updates = [torch.full((CPU_CHUNK + 3,), v) for v in (1.0, 2.0, 6.0)]
    out = torch.empty(CPU_CHUNK + 3)
    assert aggregate(updates, AggregatorConfig(), out=out) is out
    assert torch.equal(out, torch.full_like(out, 3.0))
    updates[1][-1] = float("nan")  # in the last chunk only
    with pytest.raises(AggregatorBoundError):
        aggregate(updates, AggregatorConfig(), out=out)


def test_a_pseudo_gradient_buffer_is_reused_only_once_its_round_lets_go(device: torch.device) -> None:
    """In memory, the peers read a proposal from the proposer's own buffer: until the round is
    forgotten, the next round's pseudo-gradient goes to a new buffer."""
    store = MemoryStore()
    ctx = RoundContext(InMemoryExchange(store), "s", "a", ("a", "b"), Policy())
    model = build_model(TINY, seed=0).to(device)
    trainer = Trainer(model, TrainConfig(batch_size=2), total_steps=10, device=device)
    sync = OuterSync(model, trainer, make_strategy("diloco", local_steps=1), lent=ctx.lent)
    first = sync._free_delta()
    sync.proposed[0] = first
    ctx.exchange.propose(ctx.key(0, "proposal", "a"), first, {}, wire="float32")
    assert ctx.lent(0)
    assert sync._free_delta() is not first  # round 0 still lends it out
    ctx.exchange.done(ctx.prefix(0), "a", ctx.members)
    ctx.exchange.done(ctx.prefix(0), "b", ctx.members)  # the last member forgets the round
    assert not ctx.lent(0)
    assert sync._free_delta() is first


def _alone_over_int8(log: list[torch.Tensor]) -> Propose:
    """A round of one node over an int8 wire: its update, as decoded, is the merge."""

    def propose(update: torch.Tensor, base: torch.Tensor, scale: float, into: torch.Tensor | None) -> RoundOutcome:
        decoded = unpack(pack(update, "int8"))
        log.append(decoded)
        decision = accept_all(round_index=len(log), proposers=["a"], min_participants=1, decided_by="a")
        return RoundOutcome(len(log), decision, decoded.clone(), ("a",), merged_own=decoded)

    return propose


def test_error_feedback_carries_what_int8_rounds_away_into_the_next_proposal(device: torch.device) -> None:
    """Over rounds, what the peers decode adds up to the node's progress less the current
    residual (nothing lost for good); without error feedback the rounding is dropped."""
    sent: dict[bool, list[torch.Tensor]] = {True: [], False: []}
    progress: list[torch.Tensor] = []
    for feedback in (True, False):
        model = build_model(TINY, seed=0).to(device)
        trainer = Trainer(model, TrainConfig(batch_size=2), total_steps=10, device=device)
        sync = OuterSync(model, trainer, make_strategy("cooperative_sgd", local_steps=1), error_feedback=feedback)
        propose = _alone_over_int8(sent[feedback])
        for index in range(3):
            step = torch.randn(sync.weights.numel(), generator=torch.Generator().manual_seed(index)).to(device)
            if feedback:
                progress.append(step * 1e-3)
            with torch.no_grad():
                sync.weights.sub_(step * 1e-3)  # the inner steps' progress: delta = global - weights
            sync.after_backward(0, False, propose)
        if feedback:
            assert sync.residual is not None
            total = torch.stack(sent[True]).sum(0)
            torch.testing.assert_close(total + sync.residual, torch.stack(progress).sum(0), rtol=0, atol=1e-6)
            assert float(sync.residual.abs().max()) > 0
        else:
            assert sync.residual is None
    assert not torch.equal(sent[True][1], sent[False][1])  # the second proposal carries the first's rounding
