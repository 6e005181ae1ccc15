"""Writes to the consensus ledger.

A round's life: a node holding the round's proposals opens it (``round_open``); operators, and
nodes with their own credentials, vote in it through the API (``vote_cast``) while it is open;
the first node to decide has the ledger record THE decision (``round_decide``), re-tallied under
the round's lock with the API votes, so a vote is counted exactly when it came before the
decision and refused after, and recorded with the exchange votes it counted (a voter's API vote
outweighs its exchange vote: the ledger holds exactly the votes counted); each node then reports
its view of the finished round (``ledger_record``): the resulting model, and its votes where
the round was decided outside the ledger. Every write is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from consensus.models import Decision, Proposal, ProposalOutcome, Round, RoundStatus, Tally, Vote
from ncrsh_site.api import finite
from ncrsh_site.errors import Conflict, DomainError
from ncrsh_site.events import publish_on_commit

logger = logging.getLogger(__name__)


class RoundClosed(Conflict):
    message = "ROUND_CLOSED"
    default_detail = "The round is decided; a vote can no longer be counted."


class OwnProposal(DomainError):
    status, message = 403, "PERMISSION_DENIED"
    default_detail = "A node cannot vote on its own proposal."


class AlreadyVoted(Conflict):
    message = "ALREADY_VOTED"
    default_detail = "This voter has voted on this proposal already."


def tally(name: str) -> None:
    """One more of ``name`` (Tally.NAMES), in the transaction that wrote it. A missing row (a
    flushed table) starts again from the ledger's rows, this one included."""
    if Tally.objects.filter(name=name).update(count=F("count") + 1):
        return
    kind, outcome = name.split("_")
    rows = (
        Vote.objects.filter(approve=outcome == "approve")
        if kind == "votes"
        else Decision.objects.filter(committed=outcome == "committed")
    )
    try:
        with transaction.atomic():
            Tally.objects.create(name=name, count=rows.count())
    except IntegrityError:  # created meanwhile by another writer, which counted from the rows before ours
        Tally.objects.filter(name=name).update(count=F("count") + 1)


def _round(*, session_id: str, index: int, members: list[str], base_hash: str, **more: Any) -> Round:
    round_, _ = Round.objects.get_or_create(
        session_id=session_id, index=index, defaults={"members": members, "base_hash": base_hash, **more}
    )
    return round_


@transaction.atomic
def round_open(
    *,
    session_id: str,
    index: int,
    members: list[str],
    base_hash: str,
    deadline: datetime,
    proposals: dict[str, dict[str, Any]],
) -> Round:
    """The round's proposals are in (per node: norm, samples, local loss): it is open for votes
    until decided. Every node opens it; the first one's figures stand."""
    round_ = _round(session_id=session_id, index=index, members=members, base_hash=base_hash, deadline=deadline)
    if round_.status != RoundStatus.OPEN:  # a straggler's view of a round decided without it
        return round_
    for node_id, meta in proposals.items():
        Proposal.objects.get_or_create(
            round=round_,
            node_id=node_id,
            defaults={
                "norm": finite(meta.get("norm")),
                "samples": meta.get("samples"),
                "loss": finite(meta.get("loss")),
            },
        )
    return round_


def round_votes(*, session_id: str, index: int) -> list[dict[str, Any]]:
    """The votes in the ledger for the round, as the engine's Vote fields."""
    votes = Vote.objects.filter(proposal__round__session_id=session_id, proposal__round__index=index)
    return [_engine_vote(v) for v in votes.select_related("proposal").order_by("created_at", "id")]


def _engine_vote(vote: Vote) -> dict[str, Any]:
    return {"voter": vote.voter, "proposal": vote.proposal.node_id, "approve": vote.approve, "reason": vote.reason}


@transaction.atomic
def round_decide(
    *,
    session_id: str,
    index: int,
    members: list[str],
    base_hash: str,
    aggregator: dict[str, Any],
    votes: list[dict[str, Any]],
    decide: Callable[[list[dict[str, Any]]], dict[str, Any]],
) -> dict[str, Any]:
    """THE decision of the round (the engine's Decision fields): the recorded one if any, else
    ``decide(counted)`` recorded before the round's lock is let go, with the votes it counted:
    the ledger's, then ``votes`` (the deciding node's exchange view) of each voter and proposal
    the ledger has no vote of. The ledger then holds exactly the votes the decision counts."""
    opened = _round(session_id=session_id, index=index, members=members, base_hash=base_hash)
    round_ = Round.objects.select_for_update().get(id=opened.id)
    existing = Decision.objects.filter(round=round_).select_related("round").first()
    if existing is not None:
        return existing.as_engine()
    ledger = round_votes(session_id=session_id, index=index)
    cast = {(v["voter"], v["proposal"]) for v in ledger}
    added = [v for v in votes if (v["voter"], v["proposal"]) not in cast]
    _record_votes(round_, added)
    decision = decide([*ledger, *added])
    recorded = Decision.objects.create(
        round=round_,
        committed=decision["committed"],
        accepted=list(decision["accepted"]),
        rejected=list(decision["rejected"]),
        approvals=decision["approvals"],
        rejections=decision["rejections"],
        aggregator=aggregator,
        model_hash="" if decision["committed"] else base_hash,  # a commit's model is known after the merge
        reason=decision["reason"],
        decided_by=decision.get("decided_by", ""),
        base_hash=decision.get("base_hash") or base_hash,
    )
    tally("rounds_committed" if recorded.committed else "rounds_failed")
    _close(round_, recorded)
    return recorded.as_engine()


def _close(round_: Round, decision: Decision) -> None:
    accepted = set(decision.accepted)
    for proposal in round_.proposals.all():
        proposal.outcome = ProposalOutcome.ACCEPTED if proposal.node_id in accepted else ProposalOutcome.REJECTED
        proposal.save(update_fields=["outcome"])
    round_.status = RoundStatus.COMMITTED if decision.committed else RoundStatus.FAILED
    round_.save(update_fields=["status"])
    publish_on_commit(
        "consensus_decision",
        {
            **_where(round_),
            "committed": decision.committed,
            "accepted": decision.accepted,
            "rejected": decision.rejected,
            "reason": decision.reason,
        },
    )


@transaction.atomic
def vote_cast(*, proposal: Proposal, voter: str, approve: bool, reason: str = "") -> Vote:
    """A vote in an open round (locked against its decision): 409 once decided, or a second time;
    403 for a node's vote on its own proposal."""
    if voter == proposal.node_id:
        raise OwnProposal(f"{voter} cannot vote on its own proposal {proposal.public_id}.")
    round_ = Round.objects.select_for_update().get(id=proposal.round_id)
    if round_.status != RoundStatus.OPEN or Decision.objects.filter(round=round_).exists():
        raise RoundClosed(f"{round_.public_id} is {round_.status}; the vote was not counted.")
    try:
        with transaction.atomic():
            vote = Vote.objects.create(proposal=proposal, voter=voter, approve=approve, reason=reason)
    except IntegrityError:
        raise AlreadyVoted(f"{voter} has voted on {proposal.public_id} already.") from None
    tally("votes_approve" if approve else "votes_reject")
    publish_on_commit("consensus_vote", {**_where(round_), **vote_summary(vote)})
    return vote


@transaction.atomic
def ledger_record(
    *,
    session_id: str,
    index: int,
    members: list[str],
    base_hash: str,
    proposers: list[str],
    votes: list[dict[str, Any]],
    decision: dict[str, Any],
    model_hash: str,
    node_id: str,
) -> Round:
    """Record one node's view of a finished round, ``model_hash`` its model after it.
    Idempotent: the first report creates each row, later reports add only the votes not yet
    there (one per voter and proposal). A round decided outside the ledger gets its decision
    here. The decision keeps who ended the round with its model (``confirmed_by``) and who did
    not (``diverged``: node -> its model's hash)."""
    opened = _round(session_id=session_id, index=index, members=members, base_hash=base_hash)
    # Every node reports the same round at about the same time: one at a time, or two inserting
    # the same votes in different orders deadlock on the unique index.
    round_ = Round.objects.select_for_update().get(id=opened.id)
    if round_.status == RoundStatus.OPEN:  # decided outside the ledger: its proposals are this view's
        for proposer in proposers:
            Proposal.objects.get_or_create(round=round_, node_id=proposer)
    if not Decision.objects.filter(round=round_).exists():  # else its counted votes are recorded
        _record_votes(round_, votes)
    recorded, created = Decision.objects.get_or_create(
        round=round_,
        defaults={
            "committed": decision["committed"],
            "accepted": list(decision["accepted"]),
            "rejected": list(decision["rejected"]),
            "approvals": decision["approvals"],
            "rejections": decision["rejections"],
            "aggregator": decision.get("aggregator", {}),
            "reason": decision["reason"],
            "decided_by": decision.get("decided_by", ""),
            "base_hash": decision.get("base_hash") or base_hash,
        },
    )
    if created:
        tally("rounds_committed" if recorded.committed else "rounds_failed")
    if created or round_.status == RoundStatus.OPEN:
        _close(round_, recorded)
    if not recorded.model_hash:  # the first report of the merged model
        recorded.model_hash = model_hash if recorded.committed else recorded.base_hash
        recorded.save(update_fields=["model_hash"])
        if recorded.committed:
            publish_on_commit(
                "model_update", {**_where(round_), "model_hash": recorded.model_hash, "nodes": recorded.accepted}
            )
    if model_hash == recorded.model_hash:
        recorded.confirmed_by = sorted({*recorded.confirmed_by, node_id})
    else:
        logger.error("%s ended %s with %s, not the swarm's %s", node_id, round_, model_hash, recorded.model_hash)
        recorded.diverged = {**recorded.diverged, node_id: model_hash}
    recorded.save(update_fields=["confirmed_by", "diverged"])
    return round_


def _record_votes(round_: Round, votes: list[dict[str, Any]]) -> None:
    """Add the votes on the round's proposals that the ledger lacks (one per voter and proposal)."""
    proposals = {p.node_id: p for p in round_.proposals.all()}
    for vote in sorted(votes, key=lambda v: (v["proposal"], v["voter"])):
        proposal = proposals.get(vote["proposal"])
        if proposal is None:
            continue
        try:
            with transaction.atomic():  # a duplicate from another node's report is simply not counted twice
                row, created = Vote.objects.get_or_create(
                    proposal=proposal,
                    voter=vote["voter"],
                    defaults={"approve": vote["approve"], "reason": vote.get("reason", "")},
                )
        except IntegrityError:
            continue
        if created:
            tally("votes_approve" if row.approve else "votes_reject")
            publish_on_commit("consensus_vote", {**_where(round_), **vote_summary(row)})


def _where(round_: Round) -> dict[str, Any]:
    return {"session_id": round_.session_id, "round_id": round_.public_id, "round": round_.index}


def vote_summary(vote: Vote) -> dict[str, Any]:
    return {
        "proposal_id": vote.proposal.public_id,
        "proposal": vote.proposal.node_id,
        "voter": vote.voter,
        "approve": vote.approve,
        "reason": vote.reason,
    }
