"""A node of several processes (engine.ranks): its ranks, started by torch's elastic launcher
over gloo, train as one member, and as one process would on the whole batch."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import torch
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from engine.config import Policy, TrainConfig, make_strategy, tiny
from engine.data import Corpus
from engine.datasets import load_bytes
from engine.errors import EngineError
from engine.exchange import InMemoryExchange, MemoryStore
from engine.node import NodeSpec, train_node
from engine.ranks import Ranks
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


def _rank_main(spec: NodeSpec, fail_rank: int | None) -> dict[str, Any]:
    """One rank of the node: what it ends with."""
    device = torch.device("cpu")
    ranks = Ranks.joined(device)
    if ranks.rank == fail_rank:
        raise RuntimeError(f"rank {ranks.rank} fails on purpose")
    exchange = InMemoryExchange(MemoryStore()) if ranks.lead else None
    result = train_node(spec, corpus=_corpus(), exchange=exchange, device=device, ranks=ranks)
    return {"state": result.state, "rounds": [r.committed for r in result.rounds], "val_loss": result.val_loss}


def _launch(nproc: int, spec: NodeSpec, fail_rank: int | None = None) -> dict[int, dict[str, Any]]:
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",
        run_id=secrets.token_hex(4),
        max_restarts=0,
        monitor_interval=0.1,
    )
    return dict(elastic_launch(config, _rank_main)(spec, fail_rank))


@pytest.mark.parametrize("size", [1, 2, 3, 4])
@pytest.mark.parametrize("batch_size", [4, 5, 7])
def test_the_ranks_rows_cover_the_batch_once_and_their_weights_average_to_one(size: int, batch_size: int) -> None:
    parts = [Ranks(rank, size).rows(batch_size) for rank in range(size)]
    assert [i for part in parts for i in range(part.start, part.stop)] == list(range(batch_size))
    weights = [Ranks(rank, size).weight(batch_size) for rank in range(size)]
    assert sum(weights) / size == pytest.approx(1.0)


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


def test_a_rank_that_fails_takes_the_node_down_instead_of_leaving_the_others_waiting() -> None:
    with pytest.raises(ChildFailedError) as failed:
        _launch(2, _spec(), fail_rank=1)
    assert 1 in failed.value.failures
