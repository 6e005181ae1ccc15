from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from engine.config import Policy
from ncrsh_site.errors import NodeNotFound
from nodes.models import ALIVE_STATUSES, Node
from nodes.network import LATENCY_BUCKETS_S, ROUND_BUCKETS_S, merged, summary


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


def _nodes_seen(members: Sequence[str]) -> list[Node]:
    """The session's members and every other node alive now."""
    return list(Node.objects.filter(Q(id__in=members) | Q(status__in=ALIVE_STATUSES)))


def _this_session(node: Node, session_id: str | None) -> dict[str, Any]:
    network = node.network or {}
    return network if session_id and network.get("session") == session_id else {}


def network_topology(*, session_id: str | None, members: Sequence[str]) -> dict[str, Any]:
    """Nodes, and the edges of the session's exchange: each node fetches every other member's
    update (all-to-all through the exchange), an edge per (source, target) it actually fetched."""
    nodes = _nodes_seen(members)
    edges = []
    for node in nodes:
        for peer, edge in sorted(_this_session(node, session_id).get("peers", {}).items()):
            edges.append(
                {
                    "source": peer,
                    "target": node.id,
                    "bytes": edge["bytes"],
                    "fetches": edge["fetches"],
                    "latency_ms": {
                        "last": edge["latency_last_s"] * 1000,
                        "mean": edge["latency_sum_s"] / edge["fetches"] * 1000,
                    },
                }
            )
    return {
        "session_id": session_id,
        "pattern": "all_to_all",
        "transport": "memory" if settings.EMBEDDED else "redis",
        "nodes": [{"id": n.id, "status": n.status, "address": n.address, "member": n.id in members} for n in nodes],
        "edges": edges,
    }


def network_metrics(*, session_id: str | None, members: Sequence[str]) -> dict[str, Any]:
    """Per node: bytes through the exchange, fetch latency and round duration (since the node
    joined), control-plane latency and partition state (its session's last round)."""
    nodes = _nodes_seen(members)
    rows = []
    for node in nodes:
        network = node.network or {}
        rows.append(
            {
                "id": node.id,
                "status": node.status,
                "bytes_sent": network.get("bytes_sent", 0),
                "bytes_received": network.get("bytes_received", 0),
                "latency_ms": summary(network.get("latency"), LATENCY_BUCKETS_S, scale=1000),
                "round_seconds": summary(network.get("round_seconds"), ROUND_BUCKETS_S),
                "control_plane_latency_ms": node.network_latency,
                "partition": bool(_this_session(node, session_id).get("partition", False)),
            }
        )
    alive = sum(1 for n in nodes if n.id in members and n.status in ALIVE_STATUSES)
    return {
        "session_id": session_id,
        "partition": bool(members) and (alive < Policy.majority(len(members)) or any(r["partition"] for r in rows)),
        "nodes": rows,
        "totals": {
            "bytes_sent": sum(r["bytes_sent"] for r in rows),
            "bytes_received": sum(r["bytes_received"] for r in rows),
            "latency_ms": summary(
                merged([n.network["latency"] for n in nodes if (n.network or {}).get("latency")], LATENCY_BUCKETS_S),
                LATENCY_BUCKETS_S,
                scale=1000,
            ),
        },
    }
