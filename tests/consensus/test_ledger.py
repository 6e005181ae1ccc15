from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from consensus.models import Decision, Proposal, Round, Vote
from consensus.services import ledger_record
from tests.support.services import plan_config
from training.models import TrainingSession

pytestmark = pytest.mark.django_db
MEMBERS = ["node_a", "node_b", "node_c"]


def _decision(**overrides: Any) -> dict[str, Any]:
    return {
        "round_index": 0,
        "accepted": ["node_a", "node_b"],
        "rejected": ["node_c"],
        "approvals": {"node_a": 3, "node_b": 3, "node_c": 0},
        "rejections": {"node_a": 0, "node_b": 0, "node_c": 3},
        "committed": True,
        "reason": "2 of 3 proposals accepted",
        "decided_by": "node_a",
        "base_hash": "sha256:base",
        **overrides,
    }


def _votes(voter: str) -> list[dict[str, Any]]:
    return [
        {"voter": voter, "proposal": "node_a", "approve": True, "reason": "held-out loss 2.1"},
        {"voter": voter, "proposal": "node_b", "approve": True, "reason": "held-out loss 2.2"},
        {"voter": voter, "proposal": "node_c", "approve": False, "reason": "non-finite values"},
    ]


@pytest.fixture
def session() -> TrainingSession:
    return TrainingSession.objects.create(
        dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1, config=plan_config(MEMBERS)
    )


def _record(session: TrainingSession, voters: list[str] = MEMBERS, node_id: str = "node_a", **decision: Any) -> Round:
    """A node's report of the round: its decision and the votes of ``voters`` it saw."""
    return ledger_record(
        session_id=session.id, index=0, members=MEMBERS, base_hash="sha256:base", proposers=MEMBERS,
        votes=[v for voter in voters for v in _votes(voter)], decision=_decision(**decision),
        model_hash="sha256:after", node_id=node_id,
    )  # fmt: skip


def test_every_node_reporting_a_round_leaves_one_ledger_entry(session: TrainingSession) -> None:
    for _ in MEMBERS:
        _record(session)
    assert Round.objects.count() == 1
    assert Decision.objects.count() == 1
    assert Proposal.objects.count() == 3
    assert Vote.objects.count() == 9  # three voters, three proposals, one vote each
    assert Round.objects.get().status == "committed"


def test_a_repeated_report_adds_no_vote(session: TrainingSession) -> None:
    _record(session, ["node_a"])
    _record(session, ["node_a"])
    assert Vote.objects.count() == 3


def test_once_decided_a_later_view_adds_no_vote_the_decision_did_not_count(session: TrainingSession) -> None:
    _record(session, ["node_a"])  # decided (outside the ledger) on node_a's votes
    _record(session, MEMBERS)  # another node saw more votes, later
    assert sorted({v.voter for v in Vote.objects.all()}) == ["node_a"]


def test_the_first_decision_recorded_stands(session: TrainingSession) -> None:
    _record(session)
    _record(session, committed=False, accepted=[], reason="late view")
    decision = Decision.objects.get()
    assert decision.committed
    assert decision.model_hash == "sha256:after"


def test_history_shows_the_rejected_proposal_and_why(session: TrainingSession, member_client: APIClient) -> None:
    _record(session)
    body = member_client.get("/api/v1/consensus/history", {"session": session.id}).json()
    assert body["total"] == 1
    entry = body["decisions"][0]
    assert entry["round_id"].startswith("round_")
    assert entry["accepted"] == ["node_a", "node_b"]
    assert entry["votes"]["node_c"] == {"approve": 0, "reject": 3}
    assert entry["reasons"]["node_c"] == ["non-finite values"]


def test_status_names_the_rules_and_the_last_decision(session: TrainingSession, member_client: APIClient) -> None:
    _record(session)
    body = member_client.get("/api/v1/consensus/status").json()
    assert body["session_id"] == session.id
    assert body["round"] == 0
    assert body["min_participants"] == 2
    assert body["last_decision"]["committed"] is True
    assert body["partition"] is True  # none of the members is alive in this test


def test_the_decision_keeps_who_ended_the_round_with_its_model_and_who_did_not(session: TrainingSession) -> None:
    _record(session, node_id="node_a")
    _record(session, node_id="node_b")
    ledger_record(
        session_id=session.id, index=0, members=MEMBERS, base_hash="sha256:base", proposers=MEMBERS,
        votes=[], decision=_decision(), model_hash="sha256:elsewhere", node_id="node_c",
    )  # fmt: skip
    decision = Decision.objects.get()
    assert (decision.model_hash, decision.confirmed_by) == ("sha256:after", ["node_a", "node_b"])
    assert decision.diverged == {"node_c": "sha256:elsewhere"}
