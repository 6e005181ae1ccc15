import math

import pytest
import torch

from engine.config import Policy
from engine.quorum import Decision, Vote, tally
from engine.voting import judge


def test_judge_rejects_non_finite_and_oversized_updates() -> None:
    updates = {
        "a": torch.ones(4),
        "b": torch.ones(4) * 1.1,
        "c": torch.ones(4) * 0.9,
        "d": torch.full((4,), math.nan),
        "e": torch.ones(4) * 1e3,
    }
    votes = {v.proposal: v for v in judge(updates, voter="a", kappa=3.0, epsilon=0.05)}
    assert [votes[n].approve for n in "abcde"] == [True, True, True, False, False]
    assert votes["d"].reason == "non-finite values"
    assert "median" in votes["e"].reason


def test_judge_rejects_updates_that_raise_the_held_out_loss() -> None:
    updates = {"good": torch.tensor([1.0]), "bad": torch.tensor([-1.0])}
    votes = judge(
        updates, voter="x", kappa=3.0, epsilon=0.05, base_loss=2.0, loss_after=lambda u: 2.0 - float(u[0]) * 0.5
    )
    assert {v.proposal: v.approve for v in votes} == {"bad": False, "good": True}


def _votes(approvals: dict[str, list[bool]]) -> list[Vote]:
    return [Vote(f"v{i}", node, ok) for node, oks in approvals.items() for i, ok in enumerate(oks)]


def test_a_proposal_needs_a_two_thirds_quorum_and_the_round_a_majority() -> None:
    votes = _votes({"a": [True, True, True], "b": [True, True, False], "c": [True, False, False]})
    decision = tally(votes, round_index=0, proposers=["a", "b", "c"], quorum=2 / 3, min_participants=2)
    assert decision.accepted == ("a", "b")
    assert decision.rejected == ("c",)
    assert decision.committed
    assert (decision.approvals["b"], decision.rejections["b"]) == (2, 1)


def test_too_few_accepted_proposals_fail_the_round() -> None:
    votes = _votes({"a": [True, True, True], "b": [False, False, True], "c": [False, False, False]})
    decision = tally(votes, round_index=3, proposers=["a", "b", "c"], quorum=2 / 3, min_participants=2)
    assert not decision.committed
    assert decision.reason.startswith("CONSENSUS_FAILED")


def test_a_double_vote_counts_once_and_a_lone_voter_cannot_accept() -> None:
    votes = [Vote("v0", "a", True), Vote("v0", "a", True), Vote("v0", "a", True)]
    decision = tally(votes, round_index=0, proposers=["a"], quorum=2 / 3, min_participants=2)
    assert decision.approvals["a"] == 1
    assert decision.accepted == ()


def test_decisions_survive_the_wire() -> None:
    decision = tally(_votes({"a": [True, True]}), round_index=1, proposers=["a"], quorum=0.5, min_participants=1)
    assert Decision.from_json(decision.to_json()) == decision


def test_policy_defaults_to_a_majority() -> None:
    assert [Policy().required(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="quorum"):
        Policy(quorum=0.3)


def test_an_operators_rejection_vetoes_what_the_nodes_approved() -> None:
    votes = [*_votes({"a": [True, True, True], "b": [True, True, True]}), Vote("operator:ann", "b", False, "odd")]
    decision = tally(votes, round_index=0, proposers=["a", "b"], quorum=2 / 3, min_participants=1)
    assert (decision.accepted, decision.rejected) == (("a",), ("b",))


def test_under_required_approval_a_proposal_needs_an_operators_yes() -> None:
    votes = [*_votes({"a": [True, True], "b": [True, True]}), Vote("operator:ann", "a", True)]
    kwargs: dict = {"round_index": 0, "proposers": ["a", "b"], "quorum": 2 / 3, "min_participants": 1}
    assert tally(votes, require_operator_approval=True, **kwargs).accepted == ("a",)
    assert tally(votes, **kwargs).accepted == ("a", "b")
