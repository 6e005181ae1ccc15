from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, Q, QuerySet

from ncrsh_site.errors import NodeNotFound
from nodes.models import ALIVE_STATUSES, Node


def node_list(*, statuses: Sequence[str] = ()) -> QuerySet[Node]:
    nodes = Node.objects.all()
    return nodes.filter(status__in=statuses) if statuses else nodes


def node_counts(nodes: QuerySet[Node] | None = None) -> tuple[int, int]:
    """(total, alive) in one query."""
    counts = (Node.objects.all() if nodes is None else nodes).aggregate(
        total=Count("id"), alive=Count("id", filter=Q(status__in=ALIVE_STATUSES))
    )
    return counts["total"], counts["alive"]


def node_get(*, node_id: str) -> Node:
    try:
        return Node.objects.get(id=node_id)
    except Node.DoesNotExist:
        raise NodeNotFound(f"No node with id {node_id!r}.") from None
