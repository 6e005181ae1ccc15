"""The round protocol with real threads: deadlines, stragglers, partitions, one decision."""

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import torch

from engine.config import Policy
from engine.errors import ModelDivergence
from engine.exchange import Exchange, InMemoryExchange, MemoryStore
from engine.identity import KeyIdentity, load_private_key, new_private_key, public_key_hex
from engine.quorum import Decision, Vote, counted_votes
from engine.rounds import Round, RoundContext, RoundOutcome
from engine.voting import judge

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
        outcomes[name] = Round(ctx, 0, update, base_hash="sha256:same", meta={}, judge=_judge(name)).run()

    threads = [threading.Thread(target=node, args=item) for item in nodes.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_all_members_agree_on_one_decision_and_aggregate(exchange_factory: Callable[[], Exchange]) -> None:
    outcomes = _run(exchange_factory, dict.fromkeys(MEMBERS, 0.0), values={"n0": 1.0, "n1": 2.0, "n2": 3.0})
    assert {o.decision.accepted for o in outcomes.values()} == {MEMBERS}
    assert all(o.committed for o in outcomes.values())
    assert all(torch.equal(o.aggregate, torch.full((8,), 2.0)) for o in outcomes.values() if o.aggregate is not None)


def test_each_outcome_counts_the_nodes_traffic_and_the_fetch_of_every_peer(
    exchange_factory: Callable[[], Exchange],
) -> None:
    outcomes = _run(exchange_factory, dict.fromkeys(MEMBERS, 0.0))
    for name, outcome in outcomes.items():
        peers = set(MEMBERS) - {name}
        assert set(outcome.fetched) == peers
        # Each proposal carries 8 float32s and a header; its fetch took a measurable, short time.
        assert all(size > 32 and 0.0 <= seconds < 1.0 for size, seconds in outcome.fetched.values())
        assert outcome.sent > 32  # its proposal, votes and its offer of the decision
        assert outcome.received >= sum(size for size, _ in outcome.fetched.values())


def test_a_straggler_past_the_deadline_is_left_out_and_adopts_the_decision(
    exchange_factory: Callable[[], Exchange],
) -> None:
    outcomes = _run(exchange_factory, {"n0": 0.0, "n1": 0.0, "n2": 1.0}, deadline=0.4, values={"n2": 1.5})
    for name in MEMBERS:
        decision = outcomes[name].decision
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
    assert outcomes["n0"].decision.reason.startswith("NETWORK_PARTITION: 1 of 3")


def test_a_byzantine_proposal_is_outvoted(exchange_factory: Callable[[], Exchange]) -> None:
    outcomes = _run(exchange_factory, dict.fromkeys(MEMBERS, 0.0), values={"n2": 1e4})
    decision = outcomes["n0"].decision
    assert decision.accepted == ("n0", "n1")
    assert decision.rejected == ("n2",)
    assert decision.rejections["n2"] == 3


def test_a_late_minority_adopts_the_majority_decision_instead_of_forking(
    exchange_factory: Callable[[], Exchange],
) -> None:
    # n2 is so late that it sees only its own proposal... after n0 and n1 have decided.
    outcomes = _run(exchange_factory, {"n0": 0.0, "n1": 0.0, "n2": 0.8}, deadline=0.3)
    assert outcomes["n2"].decision == outcomes["n0"].decision
    assert outcomes["n2"].committed


def test_a_proposal_from_another_base_model_is_refused() -> None:
    store = MemoryStore()
    policy = Policy(deadline_s=1.0)
    results: dict[str, RoundOutcome] = {}

    def node(name: str, base: str) -> None:
        if base != "sha256:same":
            time.sleep(1.3)  # after the others decided: the decision is theirs
        ctx = RoundContext(InMemoryExchange(store), "s", name, MEMBERS, policy)
        try:
            results[name] = Round(ctx, 0, torch.ones(4), base_hash=base, meta={}, judge=_judge(name)).run()
        except ModelDivergence as exc:
            errors[name] = exc

    errors: dict[str, ModelDivergence] = {}
    threads = [threading.Thread(target=node, args=(n, "sha256:odd" if n == "n2" else "sha256:same")) for n in MEMBERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["n0"].decision.accepted == ("n0", "n1")
    assert results["n1"].decision == results["n0"].decision
    assert "n2" in errors  # the diverged node learns it, instead of merging


class MemoryLedger:
    """The Ledger protocol in memory (the database one is tested in tests/consensus)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.opened_with: dict[int, dict] = {}
        self.votes: list[Vote] = []
        self.decisions: dict[int, Decision] = {}

    def opened(
        self, index: int, proposals: Mapping[str, Mapping[str, Any]], *, base_hash: str, deadline: float
    ) -> None:
        with self.lock:
            self.opened_with.setdefault(index, {"proposals": dict(proposals), "deadline": deadline})

    def outside_votes(self, index: int) -> list[Vote]:
        with self.lock:
            return list(self.votes)

    def decide(
        self, index: int, votes: list[Vote], decide: Callable[[list[Vote]], Decision], *, base_hash: str
    ) -> Decision:
        with self.lock:
            if index not in self.decisions:
                self.votes = counted_votes(self.votes, votes)
                self.decisions[index] = decide(list(self.votes))
            return self.decisions[index]


def _with_ledger(
    ledger: MemoryLedger, policy: Policy, operator: Callable[[], None] | None = None
) -> dict[str, RoundOutcome]:
    store, outcomes = MemoryStore(), {}

    def node(name: str) -> None:
        ctx = RoundContext(InMemoryExchange(store), "s", name, MEMBERS, policy, ledger=ledger)
        update = torch.full((8,), 1.0)
        outcomes[name] = Round(ctx, 0, update, base_hash="sha256:same", meta={"loss": 2.0}, judge=_judge(name)).run()

    threads = [threading.Thread(target=node, args=(name,)) for name in MEMBERS]
    if operator is not None:
        threads.append(threading.Thread(target=operator))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_round_with_a_ledger_is_opened_there_and_decided_once_for_all() -> None:
    ledger = MemoryLedger()
    outcomes = _with_ledger(ledger, Policy(deadline_s=2.0))
    assert set(ledger.opened_with[0]["proposals"]) == set(MEMBERS)
    assert ledger.opened_with[0]["proposals"]["n1"]["loss"] == 2.0
    assert ledger.opened_with[0]["proposals"]["n1"]["norm"] == pytest.approx(8**0.5)
    assert all(o.decision == ledger.decisions[0] for o in outcomes.values())
    assert ledger.decisions[0].accepted == MEMBERS


def test_a_nodes_vote_through_the_ledger_outweighs_its_exchange_vote_and_is_what_the_ledger_keeps() -> None:
    # n0 and n1 approve everything over the exchange, but had rejected n2 through the API.
    ledger = MemoryLedger()
    ledger.votes += [Vote("n0", "n2", False, "bad probe"), Vote("n1", "n2", False, "bad probe")]
    outcomes = _with_ledger(ledger, Policy(deadline_s=2.0))
    decision = ledger.decisions[0]
    assert (decision.accepted, decision.rejected) == (("n0", "n1"), ("n2",))
    assert (decision.approvals["n2"], decision.rejections["n2"]) == (1, 2)
    kept = {(v.voter, v.proposal): v.approve for v in ledger.votes}
    assert len(kept) == len(ledger.votes) == 9  # one vote per voter and proposal: the ones counted
    assert kept[("n0", "n2")] is False
    assert kept[("n2", "n2")] is True
    assert all(set(o.votes) == set(ledger.votes) for o in outcomes.values())


def test_under_required_approval_the_round_waits_for_the_operator_and_follows_their_votes() -> None:
    ledger = MemoryLedger()

    def operator() -> None:
        time.sleep(0.5)  # the nodes have voted by now and wait for a human
        with ledger.lock:
            ledger.votes += [Vote("operator:ann", "n0", True), Vote("operator:ann", "n1", True)]
            ledger.votes.append(Vote("operator:ann", "n2", False, "not this one"))

    outcomes = _with_ledger(ledger, Policy(deadline_s=5.0, require_operator_approval=True), operator)
    assert ledger.decisions[0].accepted == ("n0", "n1")
    assert all(o.committed and o.decision.rejected == ("n2",) for o in outcomes.values())
    assert any(v.voter == "operator:ann" for v in outcomes["n0"].votes)


def test_under_required_approval_without_an_operator_nothing_is_merged() -> None:
    outcomes = _with_ledger(MemoryLedger(), Policy(deadline_s=0.5, require_operator_approval=True))
    assert all(not o.committed and o.decision.reason.startswith("CONSENSUS_FAILED") for o in outcomes.values())


def _signed_round(identities: Mapping[str, KeyIdentity]) -> dict[str, RoundOutcome]:
    store, outcomes, policy = MemoryStore(), {}, Policy(deadline_s=1.0)

    def node(name: str) -> None:
        ctx = RoundContext(InMemoryExchange(store), "s", name, MEMBERS, policy, identity=identities[name])
        outcomes[name] = Round(ctx, 0, torch.ones(8), base_hash="sha256:same", meta={}, judge=_judge(name)).run()

    threads = [threading.Thread(target=node, args=(name,)) for name in MEMBERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("impostor", ["signs with another key", "has no registered key"])
def test_votes_count_only_under_the_voters_registered_key(impostor: str) -> None:
    keys = {name: load_private_key(new_private_key()) for name in MEMBERS}
    registry = {name: public_key_hex(key) for name, key in keys.items()}
    if impostor == "has no registered key":
        del registry["n2"]
    else:
        keys["n2"] = load_private_key(new_private_key())
    outcomes = _signed_round({name: KeyIdentity(keys[name], registry.get) for name in MEMBERS})
    decision = outcomes["n0"].decision
    assert decision.committed
    assert decision.approvals == dict.fromkeys(MEMBERS, 2)  # n0's and n1's votes; not n2's
    assert {v.voter for v in outcomes["n0"].votes} == {"n0", "n1"}


def test_with_every_key_registered_every_vote_counts() -> None:
    keys = {name: load_private_key(new_private_key()) for name in MEMBERS}
    registry = {name: public_key_hex(key) for name, key in keys.items()}
    outcomes = _signed_round({name: KeyIdentity(keys[name], registry.get) for name in MEMBERS})
    assert outcomes["n1"].decision.approvals == dict.fromkeys(MEMBERS, 3)
