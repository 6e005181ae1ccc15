"""The ledger as a state machine (hypothesis): rounds opened, votes cast through the API and
decisions asked for in any order, against a model of what must hold:

- a round has one decision, whoever asks and however often: never two committed models;
- no commit without quorum: every accepted proposal has enough votes, enough of them approving,
  and no operator veto; a commit has enough accepted proposals;
- a vote after the decision is refused and not counted; a second vote by a voter is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from consensus.models import Decision, Vote
from consensus.selectors import proposal_find
from consensus.services import AlreadyVoted, OwnProposal, RoundClosed, round_decide, round_open, vote_cast
from engine.quorum import Vote as EngineVote
from engine.quorum import tally
from ncrsh_site.errors import NotFound
from training.models import TrainingSession

MEMBERS = ["node_a", "node_b", "node_c"]
VOTERS = [*MEMBERS, "operator:ann", "operator:bob"]
QUORUM, NEEDED = 2 / 3, 2
ROUNDS = st.integers(min_value=0, max_value=2)


class Ledger(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.session = TrainingSession.objects.create(
            id=f"training_{secrets.token_hex(4)}", dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1
        )
        self.opened: set[int] = set()
        self.votes: dict[int, dict[tuple[str, str], bool]] = {}  # the ledger's votes per round
        self.decided: dict[int, dict[str, Any]] = {}

    @rule(index=ROUNDS)
    def open_round(self, index: int) -> None:
        round_open(
            session_id=self.session.id, index=index, members=MEMBERS, base_hash="sha256:base",
            deadline=datetime.now(UTC) + timedelta(seconds=30), proposals={m: {"norm": 1.0} for m in MEMBERS},
        )  # fmt: skip
        self.opened.add(index)
        self.votes.setdefault(index, {})

    @rule(index=ROUNDS, proposer=st.sampled_from(MEMBERS), voter=st.sampled_from(VOTERS), approve=st.booleans())
    def cast(self, index: int, proposer: str, voter: str, approve: bool) -> None:
        round_id = f"round_{self.session.id.removeprefix('training_')}_{index}"
        try:
            proposal = proposal_find(round_id=round_id, node_id=proposer)
        except NotFound:
            assert index not in self.opened
            return
        try:
            vote_cast(proposal=proposal, voter=voter, approve=approve)
        except OwnProposal:
            assert voter == proposer
            return
        except RoundClosed:
            assert index in self.decided
            return
        except AlreadyVoted:
            assert (voter, proposer) in self.votes[index]
            return
        assert index not in self.decided, "a vote was counted after the decision"
        assert (voter, proposer) not in self.votes[index], "a second vote was counted"
        self.votes[index][(voter, proposer)] = approve

    @precondition(lambda self: bool(self.opened))
    @rule(data=st.data(), node_approvals=st.lists(st.booleans(), min_size=9, max_size=9))
    def decide(self, data: st.DataObject, node_approvals: list[bool]) -> None:
        index = data.draw(st.sampled_from(sorted(self.opened)))
        # What the nodes voted in the exchange: each node on each proposal.
        node_votes = [
            EngineVote(voter, proposal, approve)
            for (voter, proposal), approve in zip(
                [(v, p) for v in MEMBERS for p in MEMBERS], node_approvals, strict=True
            )
        ]

        def rules(counted: list[dict[str, Any]]) -> dict[str, Any]:
            decision = tally(
                [EngineVote(**v) for v in counted],
                round_index=index, proposers=MEMBERS, quorum=QUORUM, min_participants=NEEDED, decided_by="node_a",
            )  # fmt: skip
            return asdict(decision)

        decided = round_decide(
            session_id=self.session.id, index=index, members=MEMBERS, base_hash="sha256:base", aggregator={},
            votes=[asdict(v) for v in node_votes], decide=rules,
        )  # fmt: skip
        if index in self.decided:
            assert decided == self.decided[index], "a round was decided twice"
            return
        # The first decision counts exactly the API votes cast before it, then the nodes' exchange
        # votes where a node has not voted through the API; the ledger keeps exactly those.
        api = self.votes[index]
        self.votes[index] = api | {
            (v.voter, v.proposal): v.approve for v in node_votes if (v.voter, v.proposal) not in api
        }
        expected = rules([{"voter": v, "proposal": p, "approve": a} for (v, p), a in self.votes[index].items()])
        assert decided["accepted"] == list(expected["accepted"])
        assert (decided["approvals"], decided["rejections"]) == (expected["approvals"], expected["rejections"])
        self.decided[index] = decided

    @invariant()
    def one_decision_per_round_and_none_without_quorum(self) -> None:
        decisions = Decision.objects.filter(round__session=self.session).select_related("round")
        assert sorted(d.round.index for d in decisions) == sorted(self.decided)
        for decision in decisions:
            for node in decision.accepted:
                cast = decision.approvals[node] + decision.rejections[node]
                assert cast >= NEEDED
                assert decision.approvals[node] >= QUORUM * cast
                assert ("operator:ann", node) not in self._vetoes(decision.round.index)
            assert not decision.committed or len(decision.accepted) >= NEEDED

    @invariant()
    def the_ledger_holds_exactly_the_votes_cast_and_counted(self) -> None:
        rows = {
            (v.proposal.round.index, v.voter, v.proposal.node_id): v.approve
            for v in Vote.objects.filter(proposal__round__session=self.session).select_related("proposal__round")
        }
        expected = {(i, voter, p): a for i, votes in self.votes.items() for (voter, p), a in votes.items()}
        assert rows == expected

    def _vetoes(self, index: int) -> set[tuple[str, str]]:
        return {
            (v, p) for (v, p), approve in self.votes.get(index, {}).items() if v.startswith("operator:") and not approve
        }


class TestLedgerStateMachine(TestCase):
    def test_the_ledger_keeps_its_invariants(self) -> None:
        run_state_machine_as_test(
            Ledger, settings=settings(max_examples=40, stateful_step_count=25, deadline=None, database=None)
        )
