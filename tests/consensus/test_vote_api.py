"""POST /api/v1/consensus/vote, and the ledger deciding a round with the votes cast through it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from consensus.models import Decision, Round, Vote
from consensus.services import round_decide, round_open
from engine.quorum import Vote as EngineVote
from engine.quorum import tally
from nodes.models import Node, NodeStatus
from tests.support.services import plan_config
from training.models import TrainingSession

pytestmark = pytest.mark.django_db
MEMBERS = ["node_a", "node_b", "node_c"]


@pytest.fixture
def session() -> TrainingSession:
    return TrainingSession.objects.create(
        dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1, config=plan_config(MEMBERS)
    )


@pytest.fixture
def open_round(session: TrainingSession) -> Round:
    return round_open(
        session_id=session.id,
        index=0,
        members=MEMBERS,
        base_hash="sha256:base",
        deadline=datetime.now(UTC) + timedelta(seconds=30),
        proposals={node: {"norm": 1.5, "samples": 64, "loss": 2.5} for node in MEMBERS},
    )


def decide(session: TrainingSession, *, require_operator_approval: bool = False, node_votes: bool = True) -> dict:
    """Decide round 0 as the nodes do: all approve every proposal, plus the ledger's votes."""
    honest = [{"voter": v, "proposal": p, "approve": True, "reason": ""} for v in MEMBERS for p in MEMBERS]

    def rules(counted: list[dict[str, Any]]) -> dict[str, Any]:
        decision = tally(
            [EngineVote(**v) for v in counted], round_index=0, proposers=MEMBERS, quorum=2 / 3, min_participants=2,
            require_operator_approval=require_operator_approval, decided_by="node_a",
        )  # fmt: skip
        return {**decision.__dict__, "accepted": list(decision.accepted), "rejected": list(decision.rejected)}

    return round_decide(
        session_id=session.id, index=0, members=MEMBERS, base_hash="sha256:base", aggregator={},
        votes=honest if node_votes else [], decide=rules,
    )  # fmt: skip


def vote(client: APIClient, **body: Any) -> Any:
    return client.post("/api/v1/consensus/vote", body, format="json")


def test_an_operator_vote_in_an_open_round_is_recorded_as_the_operators(
    open_round: Round, staff_client: APIClient
) -> None:
    response = vote(staff_client, round_id=open_round.public_id, node_id="node_b", approve=False, reason="looks off")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["vote"]["voter"] == "operator:operator"
    assert body["vote"]["proposal_id"] == f"proposal_{open_round.session_id.removeprefix('training_')}_0_node_b"
    assert (body["round_id"], body["vote"]["approve"], body["vote"]["reason"]) == (
        open_round.public_id,
        False,
        "looks off",
    )
    assert Vote.objects.get().voter == "operator:operator"


def test_a_vote_by_proposal_id_works_too(open_round: Round, staff_client: APIClient) -> None:
    proposal_id = open_round.proposals.get(node_id="node_c").public_id
    assert vote(staff_client, proposal_id=proposal_id, approve=True).status_code == 201


def test_a_second_vote_by_the_same_voter_is_409(open_round: Round, staff_client: APIClient) -> None:
    assert vote(staff_client, round_id=open_round.public_id, node_id="node_a", approve=True).status_code == 201
    again = vote(staff_client, round_id=open_round.public_id, node_id="node_a", approve=False)
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "ALREADY_VOTED"
    assert Vote.objects.get().approve is True


def test_a_vote_after_the_decision_is_409_and_not_counted(
    session: TrainingSession, open_round: Round, staff_client: APIClient
) -> None:
    first = decide(session)
    late = vote(staff_client, round_id=open_round.public_id, node_id="node_a", approve=False)
    assert late.status_code == 409
    assert late.json()["error"]["message"] == "ROUND_CLOSED"
    assert not Vote.objects.filter(voter__startswith="operator:").exists()
    assert Vote.objects.count() == 9  # the nodes' votes the decision counted
    assert decide(session) == first  # decided once, whatever is asked later


def test_an_unknown_proposal_is_404(open_round: Round, staff_client: APIClient) -> None:
    for body in (
        {"round_id": open_round.public_id, "node_id": "node_zz"},
        {"round_id": "round_ffffffff_0", "node_id": "node_a"},
        {"proposal_id": "proposal_nope"},
    ):
        response = vote(staff_client, approve=True, **body)
        assert response.status_code == 404, body
        assert response.json()["error"]["code"] == 404


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"approve": True}, id="no proposal named"),
        pytest.param({"proposal_id": "p", "round_id": "r", "node_id": "n", "approve": True}, id="both ways"),
        pytest.param({"round_id": "round_1_0", "approve": True}, id="round without node"),
        pytest.param({"proposal_id": "p"}, id="no approve"),
        pytest.param({"proposal_id": "p", "approve": True, "voter": "operator:someone"}, id="a voter of one's choice"),
    ],
)
def test_a_malformed_vote_is_400(staff_client: APIClient, body: dict[str, Any]) -> None:
    response = vote(staff_client, **body)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "VALIDATION_ERROR"


def test_a_node_votes_with_its_own_credentials_as_itself(
    open_round: Round, client_for: Callable[[User | None], APIClient]
) -> None:
    Node.objects.create(id="node_b", status=NodeStatus.ACTIVE)
    node_client = client_for(User.objects.create_user("node_b", password="node-b-pass-123"))
    response = vote(node_client, round_id=open_round.public_id, node_id="node_a", approve=True)
    assert response.status_code == 201
    assert response.json()["vote"]["voter"] == "node_b"


def test_a_nodes_api_vote_is_the_one_counted_and_recorded(
    session: TrainingSession, open_round: Round, client_for: Callable[[User | None], APIClient]
) -> None:
    # node_b approves everything over the exchange, but rejected node_a through the API first:
    # on main at dabd97c the API answered 201 and the decision counted the exchange approval.
    Node.objects.create(id="node_b", status=NodeStatus.ACTIVE)
    node_client = client_for(User.objects.create_user("node_b", password="node-b-pass-123"))
    cast = vote(node_client, round_id=open_round.public_id, node_id="node_a", approve=False, reason="probe failed")
    assert cast.status_code == 201
    decision = decide(session)
    assert (decision["approvals"]["node_a"], decision["rejections"]["node_a"]) == (2, 1)
    recorded = Decision.objects.get()
    assert (recorded.approvals["node_a"], recorded.rejections["node_a"]) == (2, 1)
    assert Vote.objects.get(voter="node_b", proposal__node_id="node_a").approve is False
    assert Vote.objects.count() == 9  # one per voter and proposal: exactly the votes counted
    history = client_for(None)
    history.force_authenticate(User.objects.get(username="node_b"))
    entry = history.get("/api/v1/consensus/history", {"session": session.id}).json()["decisions"][0]
    assert entry["votes"]["node_a"] == {"approve": 2, "reject": 1}


def test_a_node_may_not_vote_on_its_own_proposal(
    open_round: Round, client_for: Callable[[User | None], APIClient]
) -> None:
    Node.objects.create(id="node_a", status=NodeStatus.ACTIVE)
    node_client = client_for(User.objects.create_user("node_a", password="node-a-pass-123"))
    response = vote(node_client, round_id=open_round.public_id, node_id="node_a", approve=True)
    assert response.status_code == 403
    assert (
        response.json()["error"]["detail"]
        == f"node_a cannot vote on its own proposal {open_round.proposals.get(node_id='node_a').public_id}."
    )
    assert not Vote.objects.exists()


def test_a_user_who_is_neither_operator_nor_node_may_not_vote(open_round: Round, member_client: APIClient) -> None:
    response = vote(member_client, round_id=open_round.public_id, node_id="node_a", approve=True)
    assert response.status_code == 403


def test_an_operator_rejection_vetoes_a_proposal_the_nodes_approved(
    session: TrainingSession, open_round: Round, staff_client: APIClient
) -> None:
    vote(staff_client, round_id=open_round.public_id, node_id="node_c", approve=False, reason="suspicious")
    decision = decide(session)
    assert decision["accepted"] == ["node_a", "node_b"]
    assert decision["rejected"] == ["node_c"]
    assert Round.objects.get().proposals.get(node_id="node_c").outcome == "rejected"


def test_under_required_approval_only_proposals_an_operator_approved_are_merged(
    session: TrainingSession, open_round: Round, staff_client: APIClient
) -> None:
    for node in ("node_a", "node_b"):
        vote(staff_client, round_id=open_round.public_id, node_id=node, approve=True)
    decision = decide(session, require_operator_approval=True)
    assert (decision["committed"], decision["accepted"]) == (True, ["node_a", "node_b"])


def test_status_shows_the_open_round_with_its_proposals_and_votes(
    session: TrainingSession, open_round: Round, staff_client: APIClient
) -> None:
    vote(staff_client, round_id=open_round.public_id, node_id="node_a", approve=True)
    status = staff_client.get("/api/v1/consensus/status").json()
    assert (status["phase"], status["round_id"]) == ("voting", open_round.public_id)
    proposals = {p["node_id"]: p for p in status["proposals"]}
    assert proposals["node_a"]["votes"] == {"approve": 1, "reject": 0}
    assert proposals["node_a"]["operator_votes"] == [{"voter": "operator:operator", "approve": True, "reason": ""}]
    assert (proposals["node_b"]["norm"], proposals["node_b"]["samples"], proposals["node_b"]["loss"]) == (1.5, 64, 2.5)
    decide(session)
    assert staff_client.get("/api/v1/consensus/status").json()["phase"] == "training"


def test_a_nan_proposal_is_shown_with_a_null_norm_not_a_server_error(
    session: TrainingSession, staff_client: APIClient
) -> None:
    round_open(
        session_id=session.id, index=0, members=MEMBERS, base_hash="sha256:base",
        deadline=datetime.now(UTC) + timedelta(seconds=30),
        proposals={"node_a": {"norm": float("nan"), "loss": float("inf"), "samples": 8}},
    )  # fmt: skip
    decide(session)
    for path in ("/api/v1/consensus/status", "/api/v1/consensus/history"):
        response = staff_client.get(path)
        assert response.status_code == 200, path
    proposal = staff_client.get("/api/v1/consensus/history").json()["decisions"][0]["proposals"][0]
    assert (proposal["norm"], proposal["loss"], proposal["samples"]) == (None, None, 8)
