from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from consensus.models import Decision, Proposal, ProposalOutcome, Round, RoundStatus, Vote
from ncrsh_site.events import publish_on_commit


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
) -> Round:
    """Record one node's view of a finished round. Idempotent: the first report creates each
    row, later reports add only the votes not yet there (one per voter and proposal)."""
    round_, _ = Round.objects.get_or_create(
        session_id=session_id, index=index, defaults={"members": members, "base_hash": base_hash}
    )
    accepted = set(decision["accepted"])
    for node_id in proposers:
        outcome = ProposalOutcome.ACCEPTED if node_id in accepted else ProposalOutcome.REJECTED
        Proposal.objects.get_or_create(round=round_, node_id=node_id, defaults={"outcome": outcome})
    proposals = {p.node_id: p for p in round_.proposals.all()}
    for vote in votes:
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
            publish_on_commit("consensus_vote", {**_where(round_), **vote_summary(row)})
    recorded, created = Decision.objects.get_or_create(
        round=round_,
        defaults={
            "committed": decision["committed"],
            "accepted": list(decision["accepted"]),
            "rejected": list(decision["rejected"]),
            "approvals": decision["approvals"],
            "rejections": decision["rejections"],
            "aggregator": decision.get("aggregator", {}),
            "model_hash": model_hash if decision["committed"] else base_hash,
            "reason": decision["reason"],
            "decided_by": decision.get("decided_by", ""),
        },
    )
    status = RoundStatus.COMMITTED if decision["committed"] else RoundStatus.FAILED
    Round.objects.filter(id=round_.id).update(status=status)
    round_.status = status
    if created:
        _announce_decision(round_, recorded)
    return round_


def _where(round_: Round) -> dict[str, Any]:
    return {"session_id": round_.session_id, "round_id": round_.public_id, "round": round_.index}


def vote_summary(vote: Vote) -> dict[str, Any]:
    return {"proposal": vote.proposal.node_id, "voter": vote.voter, "approve": vote.approve, "reason": vote.reason}


def _announce_decision(round_: Round, decision: Decision) -> None:
    data = {
        **_where(round_),
        "committed": decision.committed,
        "accepted": decision.accepted,
        "rejected": decision.rejected,
        "model_hash": decision.model_hash,
        "reason": decision.reason,
    }
    publish_on_commit("consensus_decision", data)
    if decision.committed:
        update = {**_where(round_), "model_hash": decision.model_hash, "nodes": decision.accepted}
        publish_on_commit("model_update", update)
