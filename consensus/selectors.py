from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from consensus.models import Decision, Round


def decision_history(*, session_id: str | None = None) -> QuerySet[Decision]:
    decisions = Decision.objects.select_related("round").prefetch_related("round__proposals__votes")
    return decisions.filter(round__session_id=session_id) if session_id else decisions


def decision_summary(decision: Decision) -> dict[str, Any]:
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
        "aggregator": decision.aggregator,
        "model_hash": decision.model_hash,
        "reason": decision.reason,
        "decided_by": decision.decided_by,
        "decided_at": decision.created_at,
    }


def round_latest(*, session_id: str) -> Round | None:
    return Round.objects.filter(session_id=session_id).order_by("-index").first()
