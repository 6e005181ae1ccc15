from __future__ import annotations

import re
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from consensus.models import Decision, Proposal, Round
from engine.quorum import OPERATOR
from models_store.models import Checkpoint
from ncrsh_site.errors import NotFound


def decision_history(*, session_id: str | None = None) -> QuerySet[Decision]:
    """Decisions, newest first, with what ``decision_summary`` reads fetched in a few queries."""
    # The checkpoint holding the round's resulting model, where one was saved.
    saved = Checkpoint.objects.filter(model_hash=OuterRef("model_hash")).values("id")[:1]
    decisions = (
        Decision.objects.select_related("round")
        .prefetch_related("round__proposals__votes")
        .annotate(checkpoint_id=Subquery(saved))
    )
    return decisions.filter(round__session_id=session_id) if session_id else decisions


def decision_summary(decision: Decision) -> dict[str, Any]:
    """One decision from ``decision_history`` (which annotates its checkpoint)."""
    round_ = decision.round
    return {
        "round_id": round_.public_id,
        "session_id": round_.session_id,
        "round": round_.index,
        "status": round_.status,
        "committed": decision.committed,
        "accepted": decision.accepted,
        "rejected": decision.rejected,
        "votes": {
            node: {"approve": decision.approvals.get(node, 0), "reject": decision.rejections.get(node, 0)}
            for node in sorted({*decision.accepted, *decision.rejected})
        },
        "reasons": {
            p.node_id: sorted({v.reason for v in p.votes.all() if not v.approve and v.reason})
            for p in round_.proposals.all()
            if any(not v.approve for v in p.votes.all())
        },
        "proposals": [proposal_summary(p) for p in round_.proposals.all()],
        # The round's members (a node admitted while the session ran is one from its first round).
        "members": list(round_.members),
        # Members without a proposal in the round: stragglers past its deadline, or nodes gone.
        "missing": sorted(set(round_.members) - {p.node_id for p in round_.proposals.all()}),
        "aggregator": decision.aggregator,
        "model_hash": decision.model_hash,
        "checkpoint": decision.checkpoint_id  # type: ignore[attr-defined]
        if decision.committed and decision.model_hash
        else None,
        "reason": decision.reason,
        "confirmed_by": decision.confirmed_by,
        "diverged": decision.diverged,
        "decided_by": decision.decided_by,
        "decided_at": decision.created_at,
    }


def proposal_summary(proposal: Proposal) -> dict[str, Any]:
    votes = list(proposal.votes.all())
    return {
        "proposal_id": proposal.public_id,
        "node_id": proposal.node_id,
        "outcome": proposal.outcome,
        "norm": proposal.norm,
        "samples": proposal.samples,
        "loss": proposal.loss,
        "votes": {"approve": sum(v.approve for v in votes), "reject": sum(not v.approve for v in votes)},
        "operator_votes": [
            {"voter": v.voter, "approve": v.approve, "reason": v.reason} for v in votes if v.voter.startswith(OPERATOR)
        ],
    }


def rounds_summary(*, session_id: str) -> dict[str, Any]:
    """How many of the session's rounds were decided, and how; in how many some node ended with
    another model than the swarm's; the model after the latest."""
    decisions = Decision.objects.filter(round__session_id=session_id)
    counts = decisions.aggregate(
        n=Count("id"),
        n_committed=Count("id", filter=Q(committed=True)),
        n_failed=Count("id", filter=Q(committed=False)),
        n_diverged=Count("id", filter=~Q(diverged={})),
    )
    latest = decisions.order_by("-round__index").values_list("model_hash", flat=True).first()
    return {
        "decided": counts["n"],
        "committed": counts["n_committed"],
        "failed": counts["n_failed"],
        "diverged": counts["n_diverged"],
        "latest_model_hash": latest or None,
    }


def round_latest(*, session_id: str) -> Round | None:
    """The session's latest round, its proposals and their votes fetched with it."""
    rounds = Round.objects.filter(session_id=session_id).prefetch_related("proposals__votes")
    return rounds.order_by("-index").first()


# A round number has at most 9 digits (an id with more names no round: 404, never an integer
# overflow in the database).
_ROUND_ID = re.compile(r"^round_([0-9a-f]+)_(\d{1,9})$")
_PROPOSAL_ID = re.compile(r"^proposal_([0-9a-f]+)_(\d{1,9})_(.+)$")


def proposal_find(
    *, proposal_id: str | None = None, round_id: str | None = None, node_id: str | None = None
) -> Proposal:
    """By ``proposal_id``, or by ``round_id`` and ``node_id`` (the proposer); 404 if none."""
    match = _PROPOSAL_ID.match(proposal_id or "")
    if match:
        session, index, node_id = match.groups()
    else:
        round_match = _ROUND_ID.match(round_id or "")
        if proposal_id or round_match is None or not node_id:
            raise NotFound(f"No proposal {proposal_id or f'of {node_id} in {round_id}'}.")
        session, index = round_match.groups()
    proposal = (
        Proposal.objects.select_related("round")
        .filter(round__session_id=f"training_{session}", round__index=int(index), node_id=node_id)
        .first()
    )
    if proposal is None:
        raise NotFound(f"No proposal {proposal_id or f'of {node_id} in {round_id}'}.")
    return proposal
