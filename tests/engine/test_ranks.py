"""A node of several processes (engine.ranks): its ranks, started by torch's elastic launcher
over gloo, train as one member, and as one process would on the whole batch."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import elastic_launch

from engine.config import Policy, TrainConfig, make_strategy, tiny
from engine.data import Corpus
from engine.datasets import load_bytes
from engine.errors import EngineError
from engine.exchange import InMemoryExchange, MemoryStore
from engine.model import build_model
from engine.node import NodeSpec, NullReporter, Resume, fingerprint, train_node
from engine.ranks import Ranks, launch_config
from engine.rounds import RoundOutcome
from engine.sharding import Layout
from engine.vectors import params_vector
from tests.engine.conftest import SHARED_DATA

# SGD in float32: linear in the gradient, so the ranks' float noise stays noise (see test_swarm).
TRAIN = TrainConfig(
    batch_size=5, max_steps=8, learning_rate=0.05, inner_optimizer="sgd", momentum=0.9, warmup_steps=2, bf16=False
)


def _spec(train: TrainConfig = TRAIN) -> NodeSpec:
    return NodeSpec(
        "solo",
        ("solo",),
        tiny(),
        train,
        make_strategy("diloco", local_steps=4),
        Policy(check_loss=False),
        f"ranks-{secrets.token_hex(3)}",
    )


def _corpus() -> Corpus:
    return Corpus.from_bytes(load_bytes("file:wikitext-2/valid.txt", data_roots=[SHARED_DATA])[:400_000])


class _Keeper(NullReporter):
    """Keeps the state the node hands its reporter after each round (a rejoining node's start)."""

    def __init__(self) -> None:
        self.kept: dict[str, torch.Tensor] = {}
        self.steps: list[int] = []
        self.states: list[dict[str, torch.Tensor]] = []

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        self.kept = state()
        self.steps.append(step)
        self.states.append(self.kept)


def _rank_main(spec: NodeSpec, fail_rank: int | None, sharded: bool, resume: Resume | None) -> dict[str, Any]:
    """One rank of the node: what it ends with."""
    device = torch.device("cpu")
    ranks = Ranks.joined(device, sharded=sharded)
    if ranks.rank == fail_rank:
        raise RuntimeError(f"rank {ranks.rank} fails on purpose")
    exchange = InMemoryExchange(MemoryStore()) if ranks.lead else None
    keeper = _Keeper()
    result = train_node(
        spec, corpus=_corpus(), exchange=exchange, device=device, ranks=ranks, reporter=keeper, resume=resume
    )
    return {
        "state": result.state,
        "rounds": [r.committed for r in result.rounds],
        "val_loss": result.val_loss,
        "kept": keeper.kept,
        "hash": result.model_hash,
        "sharded": ranks.sharded,
    }


def _launch(
    nproc: int, spec: NodeSpec, fail_rank: int | None = None, sharded: bool = False, resume: Resume | None = None
) -> dict[int, dict[str, Any]]:
    config = launch_config(nproc, run_id=secrets.token_hex(4))
    return dict(elastic_launch(config, _rank_main)(spec, fail_rank, sharded, resume))


@pytest.mark.parametrize("size", [1, 2, 3, 4])
@pytest.mark.parametrize("batch_size", [4, 5, 7])
def test_the_ranks_rows_cover_the_batch_once_and_their_weights_average_to_one(size: int, batch_size: int) -> None:
    parts = [Ranks(rank, size).rows(batch_size) for rank in range(size)]
    assert [i for part in parts for i in range(part.start, part.stop)] == list(range(batch_size))
    weights = [Ranks(rank, size).weight(batch_size) for rank in range(size)]
    assert sum(weights) / size == pytest.approx(1.0)


@pytest.mark.parametrize("size", [2, 3, 7])
def test_a_rank_s_shard_of_the_full_vector_is_its_chunk_of_each_parameter_as_fsdp_splits_them(size: int) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Linear(5, 1))  # rows 5, 5, 1, 1
    full = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    for rank in range(size):
        layout = Layout(model, Ranks(rank, size, sharded=True))
        expected = [torch.chunk(p.detach(), size, dim=0) for p in model.parameters()]
        mine = [chunks[rank].reshape(-1) for chunks in expected if rank < len(chunks)]
        assert torch.equal(layout.local_of(full), torch.cat(mine) if mine else torch.empty(0))
        assert layout.local_numel[rank] == sum(t.numel() for t in mine)


def test_a_batch_smaller_than_the_node_s_processes_is_refused_with_the_figures() -> None:
    with pytest.raises(EngineError, match="batch_size 2 cannot be split over the node's 3 processes"):
        Ranks(0, 3).check(2)


def test_two_ranks_train_as_one_process_on_the_whole_batch_even_split_uneven() -> None:
    spec = _spec()
    alone = train_node(spec, corpus=_corpus(), exchange=InMemoryExchange(MemoryStore()))
    ranks = _launch(2, spec)
    assert ranks[0]["rounds"] == [r.committed for r in alone.rounds] == [True, True]
    for name, tensor in alone.state.items():
        # The ranks hold the same weights, bit for bit, and those of the one process to float noise.
        assert torch.equal(ranks[0]["state"][name], ranks[1]["state"][name]), name
        torch.testing.assert_close(ranks[0]["state"][name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    assert ranks[0]["val_loss"] == pytest.approx(alone.val_loss, rel=1e-4)


def test_a_node_that_shards_its_model_over_two_ranks_trains_as_one_process_and_keeps_the_whole_state() -> None:
    spec = _spec()
    keeper = _Keeper()
    alone = train_node(spec, corpus=_corpus(), exchange=InMemoryExchange(MemoryStore()), reporter=keeper)
    ranks = _launch(2, spec, sharded=True)
    assert ranks[0]["sharded"]
    assert ranks[0]["rounds"] == [True, True]
    # The base hash names the whole model, its shards gathered in the order one process holds them.
    whole = build_model(tiny(), seed=0)
    whole.load_state_dict(ranks[0]["state"])
    assert ranks[0]["hash"] == fingerprint(params_vector(whole))
    assert ranks[1]["state"] == {}  # the lead holds the node's model; the other rank its shard only
    assert sorted(ranks[0]["kept"]) == sorted(keeper.kept)  # weights and outer momentum, whole
    for name, tensor in alone.state.items():
        torch.testing.assert_close(ranks[0]["state"][name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    for name, tensor in keeper.kept.items():
        torch.testing.assert_close(ranks[0]["kept"][name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    assert ranks[0]["val_loss"] == pytest.approx(alone.val_loss, rel=1e-4)


def test_a_sharded_node_resumes_from_the_swarm_state_and_continues_as_one_process_does() -> None:
    spec = _spec()
    keeper = _Keeper()
    alone = train_node(spec, corpus=_corpus(), exchange=InMemoryExchange(MemoryStore()), reporter=keeper)
    after_first = Resume(rounds=1, step=keeper.steps[0], state=keeper.states[0])  # weights and outer momentum
    resumed = train_node(spec, corpus=_corpus(), exchange=InMemoryExchange(MemoryStore()), resume=after_first)
    ranks = _launch(2, spec, sharded=True, resume=after_first)
    assert ranks[0]["rounds"] == [True]  # the second round only
    assert resumed.val_loss != pytest.approx(alone.val_loss, rel=1e-6)  # the inner optimizer starts afresh
    for name, tensor in resumed.state.items():
        torch.testing.assert_close(ranks[0]["state"][name], tensor, rtol=1e-4, atol=1e-5, msg=name)


def test_a_rank_that_fails_takes_the_node_down_instead_of_leaving_the_others_waiting() -> None:
    with pytest.raises(ChildFailedError) as failed:
        _launch(2, _spec(), fail_rank=1)
    assert 1 in failed.value.failures
