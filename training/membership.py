"""Who takes part in a running session, round by round: each round's members are fixed when a
node first asks for them, and a node that comes up while a session started on every active
node runs is admitted from the first round not yet fixed. No torch here."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.db import models, transaction

from ncrsh_site.events import publish_on_commit
from nodes.models import Node, NodeStatus
from training.models import NodeRun, SessionStatus, TrainingSession


@transaction.atomic
def session_members_fix(*, session_id: str, index: int) -> list[str]:
    """Round ``index``'s members, fixed from now on: a node admitted later joins at a later
    round. Every node asks before each round (the lead of a node of several processes)."""
    session = TrainingSession.objects.select_for_update().get(id=session_id)
    if index > session.members_fixed_through:
        session.members_fixed_through = index
        session.save(update_fields=["members_fixed_through"])
    return session.members_at(index)


@transaction.atomic
def session_admit(*, node_id: str, dispatch: Callable[[str, str], None]) -> str | None:
    """A node that comes up while a session started on every active node runs joins it, at the
    first round whose members no node has asked for yet: it starts there from the swarm's
    global state (runtime), on its own shard of the data. Returns the session it joined; None
    where there is none to join (no such session, already a member, or no round left for it)."""
    session = (
        TrainingSession.objects.select_for_update()
        .filter(status=SessionStatus.RUNNING, admits_nodes=True)
        .order_by("-created_at")
        .first()
    )
    if session is None or node_id in session.members:
        return None
    first_round = session.members_fixed_through + 1
    total = session.runs.aggregate(total=models.Max("total_steps"))["total"]
    if total is not None and first_round >= session.plan.strategy.rounds(total):
        return None  # the session's last round is under way: nothing left to join
    session.joined = [*session.joined, {"from_round": first_round, "node_id": node_id}]
    session.save(update_fields=["joined"])
    NodeRun.objects.create(session=session, node_id=node_id, rank=len(session.members) - 1)
    node = Node.objects.get(id=node_id)
    node.status = NodeStatus.TRAINING
    node.save(update_fields=["status", "updated_at"])
    publish_on_commit(
        "node_joined",
        {
            "node_id": node.id,
            "address": node.address,
            "status": node.status,
            "session_id": session.id,
            "round": first_round,
            "members": session.members,
        },
    )
    transaction.on_commit(functools.partial(dispatch, session.id, node_id))
    return session.id
