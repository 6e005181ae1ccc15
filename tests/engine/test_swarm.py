"""Whole swarms of tiny models on wikitext-2, as threads, over both exchanges."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping

import pytest
import torch

from engine.config import AggregatorConfig, Policy, TrainConfig, make_strategy, tiny
from engine.data import Batches, Corpus, validation_batches
from engine.exchange import Exchange, InMemoryExchange, MemoryStore
from engine.local import run_local_swarm
from engine.model import build_model
from engine.node import OUTER_MOMENTUM, NodeResult, NodeSpec, Resume, node_batches, train_node
from engine.trainer import Trainer, evaluate

TWO = ("node_a", "node_b")
FOUR = ("node_a", "node_b", "node_c", "node_d")


def _specs(members: tuple[str, ...], train: TrainConfig, strategy: str, **kw: object) -> list[NodeSpec]:
    h = kw.pop("local_steps", None)
    policy = kw.pop("policy", Policy(check_loss=False))
    faults = kw.pop("faults", {})
    assert isinstance(faults, dict)
    session = f"{strategy}-{secrets.token_hex(3)}"  # round keys must not meet another run's
    return [
        NodeSpec(m, members, tiny(), train, make_strategy(strategy, local_steps=h), policy, session, faults.get(m))  # type: ignore[arg-type]
        for m in members
    ]


def _assert_identical_after_every_round(results: list[NodeResult]) -> None:
    rounds = {len(r.rounds) for r in results}
    assert len(rounds) == 1
    for i in range(rounds.pop()):
        assert len({r.rounds[i].model_hash for r in results}) == 1, f"nodes differ after round {i}"
    assert len({r.model_hash for r in results}) == 1


def test_loss_falls_on_wikitext(device: torch.device, wikitext: Corpus) -> None:
    train = TrainConfig(batch_size=8, max_steps=150, learning_rate=3e-3, log_every=50)
    spec = _specs(("solo",), train, "cooperative_sgd", local_steps=50)[0]
    initial = evaluate(
        build_model(tiny(), seed=0),
        validation_batches(wikitext.val, batch_size=8, seq_len=64, max_batches=8),
        device=torch.device("cpu"),
    )[0]
    result = train_node(spec, corpus=wikitext, device=device, exchange=InMemoryExchange(MemoryStore()))
    assert initial > 5.0
    assert result.val_loss < initial - 2.0


def test_sync_sgd_on_n_nodes_is_one_node_on_the_n_times_batch(
    device: torch.device, wikitext: Corpus, exchange_factory: Callable[[], Exchange]
) -> None:
    # float32 on every device (bf16's rounding depends on the batch's split), and SGD: AdamW's
    # update, about lr x sign(g) where g is near 0, turns last-bit differences into lr-sized ones.
    train = TrainConfig(
        batch_size=4, max_steps=6, learning_rate=0.05, inner_optimizer="sgd", momentum=0.9, warmup_steps=2, bf16=False
    )
    specs = _specs(TWO, train, "sync_sgd")
    results = run_local_swarm(specs, corpus=wikitext, device=device, exchange_factory=exchange_factory)
    _assert_identical_after_every_round(results)

    reference = build_model(tiny(), seed=train.seed)
    trainer = Trainer(reference.to(device), train, total_steps=6, device=device)
    streams = [node_batches(spec, wikitext) for spec in specs]
    for _ in range(6):
        batches = [stream.next() for stream in streams]
        trainer.forward_backward(torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches]))
        trainer.step()
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(results[0].state[name], tensor.cpu(), rtol=1e-4, atol=1e-5, msg=name)


def test_cooperative_sgd_with_h_1_is_sync_sgd(
    device: torch.device, wikitext: Corpus, exchange_factory: Callable[[], Exchange]
) -> None:
    # Exact when the inner optimizer is linear in the gradient (SGD with momentum, no clipping):
    # averaging the weights after one step equals one step on the averaged gradient.
    train = TrainConfig(
        batch_size=4, max_steps=6, learning_rate=0.05, inner_optimizer="sgd", momentum=0.9, grad_clip=None, bf16=False
    )
    sync = run_local_swarm(
        _specs(TWO, train, "sync_sgd"), corpus=wikitext, device=device, exchange_factory=exchange_factory
    )
    local = run_local_swarm(
        _specs(TWO, train, "cooperative_sgd", local_steps=1),
        corpus=wikitext,
        device=device,
        exchange_factory=exchange_factory,
    )
    _assert_identical_after_every_round(local)
    assert len(local[0].rounds) == 6
    for name, tensor in sync[0].state.items():
        torch.testing.assert_close(local[0].state[name], tensor, rtol=1e-4, atol=1e-6, msg=name)


def test_diloco_nodes_hold_identical_weights_after_every_round(
    device: torch.device, wikitext: Corpus, exchange_factory: Callable[[], Exchange]
) -> None:
    train = TrainConfig(batch_size=4, max_steps=30, learning_rate=3e-3)
    results = run_local_swarm(
        _specs(FOUR, train, "diloco", local_steps=10, policy=Policy()),
        corpus=wikitext,
        device=device,
        exchange_factory=exchange_factory,
    )
    _assert_identical_after_every_round(results)
    assert [r.committed for r in results[0].rounds] == [True, True, True]
    assert all(r.bytes_sent > 0 and r.bytes_received > r.bytes_sent for r in results)


BYZANTINE_TRAIN = TrainConfig(batch_size=8, max_steps=120, learning_rate=3e-3, log_every=10**6)
ROBUST = Policy(aggregator=AggregatorConfig("trimmed_mean", f=1))
UNPROTECTED = Policy(voting=False)


@pytest.fixture(scope="module")
def honest_loss(device: torch.device, wikitext: Corpus) -> float:
    return run_local_swarm(
        _specs(FOUR, BYZANTINE_TRAIN, "cooperative_sgd", local_steps=20, policy=ROBUST), corpus=wikitext
    )[0].val_loss


@pytest.mark.parametrize("fault", ["scale", "sign_flip", "nan"])
def test_a_byzantine_node_is_outvoted_and_cannot_poison_the_model(
    device: torch.device, wikitext: Corpus, honest_loss: float, fault: str
) -> None:
    def run(policy: Policy) -> list[NodeResult]:
        specs = _specs(
            FOUR, BYZANTINE_TRAIN, "cooperative_sgd", local_steps=20, policy=policy, faults={"node_d": fault}
        )
        return run_local_swarm(specs, corpus=wikitext, device=device)

    protected = run(ROBUST)
    _assert_identical_after_every_round(protected)
    assert protected[0].val_loss <= honest_loss * 1.05
    if fault != "sign_flip":  # a flipped update can look harmless late in training; trimming still drops it
        assert all("node_d" in r.rejected for r in protected[0].rounds)

    unprotected = run(UNPROTECTED)
    # Visibly worse: scaled updates blow the model up, NaN ones stall every round, flipped ones
    # undo a quarter of the progress.
    assert unprotected[0].val_loss > honest_loss * (1.03 if fault == "sign_flip" else 1.5)


def test_a_stop_request_ends_every_node_within_a_step(device: torch.device, wikitext: Corpus) -> None:
    stop = threading.Event()

    class StopAtStep20:
        def log(self, metrics: Mapping[str, float], step: int) -> None:
            if step >= 20:
                stop.set()

        def round(self, outcome: object, model_hash: str, state: object, step: int) -> None:
            pass

    train = TrainConfig(batch_size=4, max_steps=10_000, learning_rate=3e-3, log_every=5)
    specs = _specs(FOUR, train, "diloco", local_steps=10)
    results = run_local_swarm(
        specs, corpus=wikitext, device=device, reporters={m: StopAtStep20() for m in FOUR}, should_stop=stop.is_set
    )
    assert all(r.stopped for r in results)
    assert max(r.steps for r in results) <= 21
    assert len({r.model_hash for r in results}) == 1  # each holds the last committed global model


def test_a_node_resuming_from_the_swarm_state_continues_the_rounds_in_step(
    device: torch.device, wikitext: Corpus
) -> None:
    snapshots: dict[int, dict[str, torch.Tensor]] = {}

    class KeepState:
        def log(self, metrics: Mapping[str, float], step: int) -> None:
            pass

        def round(
            self, outcome: object, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
        ) -> None:
            snapshots[step] = state()

    train = TrainConfig(batch_size=4, max_steps=20, learning_rate=3e-3)
    first = run_local_swarm(
        _specs(TWO, train, "diloco", local_steps=5), corpus=wikitext, device=device, reporters={"node_a": KeepState()}
    )
    assert OUTER_MOMENTUM in snapshots[10]  # the outer momentum travels with the weights
    resumed = run_local_swarm(
        _specs(TWO, train, "diloco", local_steps=5),
        corpus=wikitext,
        device=device,
        resume=Resume(rounds=2, step=10, state=snapshots[10]),
    )
    _assert_identical_after_every_round(resumed)
    assert [r.index for r in resumed[0].rounds] == [2, 3]
    assert [r.step for r in resumed[0].rounds] == [14, 19]
    assert resumed[0].steps == first[0].steps == 20


def test_the_exchange_holds_only_the_rounds_in_flight_over_2000_sync_sgd_steps(
    device: torch.device, wikitext: Corpus
) -> None:
    store = MemoryStore()
    most = 0

    class CountKeys:
        def log(self, metrics: Mapping[str, float], step: int) -> None:
            pass

        def round(self, outcome: object, model_hash: str, state: object, step: int) -> None:
            nonlocal most
            most = max(most, len(store.keys()))

    train = TrainConfig(batch_size=2, max_steps=2000, learning_rate=3e-3, log_every=10**6, eval_batches=1)
    results = run_local_swarm(
        _specs(TWO, train, "sync_sgd", policy=Policy(check_loss=False)),
        corpus=wikitext,
        device=device,
        exchange_factory=lambda: InMemoryExchange(store),
        reporters=dict.fromkeys(TWO, CountKeys()),
    )
    assert [len(r.rounds) for r in results] == [2000, 2000]
    # A round leaves 2 proposals, 2 votes and a decision while a member still works on it; a
    # member can be at most one round ahead of the other: at most two rounds' keys at any time.
    assert 0 < most <= 10
    assert store.keys() == []  # and none once both are done


def test_a_resumed_node_reads_on_from_the_token_offset_where_it_stopped(
    device: torch.device, wikitext: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kill at step 7, resume at step 7: the windows read are exactly those of an unbroken run,
    found in O(1) (no sampler replay), none read twice, none skipped."""
    read: list[list[int]] = []
    draw = Batches.next

    def spy(self: Batches) -> tuple[torch.Tensor, torch.Tensor]:
        read.append(self.offsets(self.step))
        return draw(self)

    monkeypatch.setattr(Batches, "next", spy)
    train = TrainConfig(batch_size=4, max_steps=12, learning_rate=3e-3)
    spec = _specs(TWO, train, "cooperative_sgd", local_steps=100, policy=Policy(check_loss=False, deadline_s=0.5))[1]
    stopped = train_node(
        spec,
        corpus=wikitext,
        device=device,
        exchange=InMemoryExchange(MemoryStore()),
        should_stop=lambda: len(read) == 7,
    )
    assert stopped.stopped
    assert stopped.steps == 7
    resumed = train_node(
        spec,
        corpus=wikitext,
        device=device,
        exchange=InMemoryExchange(MemoryStore()),
        resume=Resume(rounds=0, step=stopped.steps, state=stopped.state),
    )
    assert resumed.steps == 12
    unbroken = node_batches(spec, wikitext)
    assert read == [unbroken.offsets(s) for s in range(12)]
    starts = [o for batch in read for o in batch]
    assert len(set(starts)) == len(starts)  # in the node's own blocks (disjoint: see test_data)
