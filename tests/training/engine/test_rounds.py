"""The round protocol with real threads: deadlines, stragglers, partitions, one decision."""

import threading
import time
from collections.abc import Callable

import torch

from training.engine.config import Policy
from training.engine.exchange import Exchange
from training.engine.rounds import RoundContext, RoundOutcome, run_round
from training.engine.voting import judge

MEMBERS = ("n0", "n1", "n2")


def _judge(node: str) -> Callable[[dict[str, torch.Tensor]], list]:
    return lambda updates: judge(updates, voter=node, kappa=3.0, epsilon=0.05)


def _run(
    exchange_factory: Callable[[], Exchange],
    nodes: dict[str, float],  # node -> delay before proposing
    *,
    deadline: float = 1.0,
    values: dict[str, float] | None = None,
) -> dict[str, RoundOutcome]:
    outcomes: dict[str, RoundOutcome] = {}
    policy = Policy(deadline_s=deadline)

    def node(name: str, delay: float) -> None:
        time.sleep(delay)
        ctx = RoundContext(exchange_factory(), "s", name, MEMBERS, policy)
        update = torch.full((8,), (values or {}).get(name, 1.0))
        outcomes[name] = run_round(ctx, 0, update, base_hash="sha256:same", meta={}, judge=_judge(name))

    threads = [threading.Thread(target=node, args=item) for item in nodes.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_all_members_agree_on_one_decision_and_aggregate(exchange_factory: Callable[[], Exchange]) -> None:
    outcomes = _run(exchange_factory, dict.fromkeys(MEMBERS, 0.0), values={"n0": 1.0, "n1": 2.0, "n2": 3.0})
    assert {o.decision.accepted for o in outcomes.values() if o.decision} == {MEMBERS}
    assert all(o.committed for o in outcomes.values())
    assert all(torch.equal(o.aggregate, torch.full((8,), 2.0)) for o in outcomes.values() if o.aggregate is not None)


def test_a_straggler_past_the_deadline_is_left_out_and_adopts_the_decision(
    exchange_factory: Callable[[], Exchange],
) -> None:
    outcomes = _run(exchange_factory, {"n0": 0.0, "n1": 0.0, "n2": 1.0}, deadline=0.4, values={"n2": 1.5})
    for name in MEMBERS:
        decision = outcomes[name].decision
        assert decision is not None
        assert decision.committed
        assert decision.accepted == ("n0", "n1")
    straggler, punctual = outcomes["n2"].aggregate, outcomes["n0"].aggregate
    assert straggler is not None
    assert punctual is not None
    assert torch.equal(straggler, punctual)


def test_a_node_alone_reports_a_partition_and_commits_nothing(exchange_factory: Callable[[], Exchange]) -> None:
    outcomes = _run(exchange_factory, {"n0": 0.0}, deadline=0.3)
    assert outcomes["n0"].partition
    assert not outcomes["n0"].committed
    assert outcomes["n0"].decision is None


def test_a_byzantine_proposal_is_outvoted(exchange_factory: Callable[[], Exchange]) -> None:
    outcomes = _run(exchange_factory, dict.fromkeys(MEMBERS, 0.0), values={"n2": 1e4})
    decision = outcomes["n0"].decision
    assert decision is not None
    assert decision.accepted == ("n0", "n1")
    assert decision.rejected == ("n2",)
    assert decision.rejections["n2"] == 3
