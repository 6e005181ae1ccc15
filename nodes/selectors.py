from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    FloatField,
    JSONField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KT, KeyTransform
from django.db.models.functions import Cast

from engine.config import Policy
from ncrsh_site.errors import NodeNotFound
from nodes.models import ALIVE_STATUSES, Node
from nodes.network import LATENCY_BUCKETS_S, ROUND_BUCKETS_S, Histogram, summary

# What a node's list row returns (the config, network and key columns are the detail's).
NODE_LIST_FIELDS = (
    "id",
    "address",
    "status",
    "model_hash",
    "last_seen",
    "training_speed",
    "memory_usage",
    "network_latency",
    "created_at",
)


def node_list(*, statuses: Sequence[str] = ()) -> QuerySet[Node]:
    nodes = Node.objects.all()
    return nodes.filter(status__in=statuses) if statuses else nodes


def node_row(node: Node) -> dict[str, Any]:
    """A node as the list returns it (the fields of nodes.api.NodeOutputSerializer), built
    without a serializer per row: the list's cost at 1,000 rows was DRF's field machinery."""
    return {
        "id": node.id,
        "address": node.address,
        "status": node.status,
        "model_hash": node.model_hash,
        "last_seen": node.last_seen,
        "performance": {
            "training_speed": node.training_speed,
            "memory_usage": node.memory_usage,
            "network_latency": node.network_latency,
        },
    }


def node_counts(nodes: QuerySet[Node] | None = None) -> tuple[int, int]:
    """(total, alive) in one query."""
    counts = (Node.objects.all() if nodes is None else nodes).aggregate(
        total=Count("id"), alive=Count("id", filter=Q(status__in=ALIVE_STATUSES))
    )
    return counts["total"], counts["alive"]


def _json_number(path: str, field: type[BigIntegerField | FloatField]) -> Cast:
    return Cast(KT(f"network__{path}"), field())


_HISTOGRAMS = {"latency": LATENCY_BUCKETS_S, "round_seconds": ROUND_BUCKETS_S}


def network_totals(nodes: QuerySet[Node], histograms: Sequence[str] = tuple(_HISTOGRAMS)) -> dict[str, Any]:
    """``Node.network`` summed over ``nodes`` in one aggregate query (the database adds up the
    JSON numbers): bytes sent and received, and the ``histograms`` (latency, round_seconds)
    merged."""
    sums: dict[str, Any] = {
        "bytes_sent": Sum(_json_number("bytes_sent", BigIntegerField)),
        "bytes_received": Sum(_json_number("bytes_received", BigIntegerField)),
    }
    for key in histograms:
        bounds = _HISTOGRAMS[key]
        for i in range(len(bounds) + 1):
            sums[f"{key}_c{i}"] = Sum(_json_number(f"{key}__counts__{i}", BigIntegerField))
        sums[f"{key}_sum"] = Sum(_json_number(f"{key}__sum", FloatField))
        sums[f"{key}_count"] = Sum(_json_number(f"{key}__count", BigIntegerField))
        sums[f"{key}_min"] = Min(_json_number(f"{key}__min", FloatField))
        sums[f"{key}_max"] = Max(_json_number(f"{key}__max", FloatField))
    row = nodes.order_by().aggregate(**sums)
    totals: dict[str, Any] = {"bytes_sent": row["bytes_sent"] or 0, "bytes_received": row["bytes_received"] or 0}
    for key in histograms:
        bounds = _HISTOGRAMS[key]
        histogram: Histogram = {
            "counts": [row[f"{key}_c{i}"] or 0 for i in range(len(bounds) + 1)],
            "sum": row[f"{key}_sum"] or 0.0,
            "count": row[f"{key}_count"] or 0,
            "min": row[f"{key}_min"],
            "max": row[f"{key}_max"],
        }
        totals[key] = histogram
    return totals


def node_get(*, node_id: str) -> Node:
    try:
        return Node.objects.get(id=node_id)
    except Node.DoesNotExist:
        raise NodeNotFound(f"No node with id {node_id!r}.") from None


def _nodes_seen(members: Sequence[str]) -> QuerySet[Node]:
    """The session's members and every other node alive now, by id."""
    return Node.objects.filter(Q(id__in=members) | Q(status__in=ALIVE_STATUSES)).order_by("id")


def _of_session(session_id: str | None, key: str) -> Any:
    """``Node.network[key]`` where the node's current session is ``session_id``, else null:
    read by the database, so only that key travels."""
    if session_id is None:
        return Value(None, output_field=JSONField())
    return Case(When(network__session=session_id, then=KeyTransform(key, "network")), output_field=JSONField())


def network_topology(*, session_id: str | None, members: Sequence[str], window: slice) -> dict[str, Any]:
    """A page of the nodes, and the edges of the session's exchange into them: each node fetches
    every other member's update (all-to-all through the exchange), an edge per (source, target)
    it actually fetched."""
    seen = _nodes_seen(members)
    page = seen.values("id", "status", "address", peers=_of_session(session_id, "peers"))[window]
    nodes, edges = [], []
    for node in page:
        nodes.append(
            {"id": node["id"], "status": node["status"], "address": node["address"], "member": node["id"] in members}
        )
        for peer, edge in sorted((node["peers"] or {}).items()):
            edges.append(
                {
                    "source": peer,
                    "target": node["id"],
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
        "nodes": nodes,
        "edges": edges,
        "total": seen.count(),
    }


def network_metrics(*, session_id: str | None, members: Sequence[str], window: slice) -> dict[str, Any]:
    """Per node of a page: bytes through the exchange, fetch latency and round duration (since
    the node joined), control-plane latency and partition state (its session's last round);
    totals over all the nodes seen."""
    seen = _nodes_seen(members)
    page = seen.values(
        "id",
        "status",
        "network_latency",
        bytes_sent=KeyTransform("bytes_sent", "network"),
        bytes_received=KeyTransform("bytes_received", "network"),
        latency=KeyTransform("latency", "network"),
        round_seconds=KeyTransform("round_seconds", "network"),
        partition=_of_session(session_id, "partition"),
    )[window]
    rows = [
        {
            "id": node["id"],
            "status": node["status"],
            "bytes_sent": node["bytes_sent"] or 0,
            "bytes_received": node["bytes_received"] or 0,
            "latency_ms": summary(node["latency"], LATENCY_BUCKETS_S, scale=1000),
            "round_seconds": summary(node["round_seconds"], ROUND_BUCKETS_S),
            "control_plane_latency_ms": node["network_latency"],
            "partition": bool(node["partition"]),
        }
        for node in page
    ]
    alive = seen.filter(id__in=members, status__in=ALIVE_STATUSES).count()
    cut_off = seen.filter(network__session=session_id, network__partition=True).exists() if session_id else False
    totals = network_totals(seen, histograms=("latency",))
    return {
        "session_id": session_id,
        "partition": bool(members) and (alive < Policy.majority(len(members)) or cut_off),
        "nodes": rows,
        "totals": {
            "bytes_sent": totals["bytes_sent"],
            "bytes_received": totals["bytes_received"],
            "latency_ms": summary(totals["latency"], LATENCY_BUCKETS_S, scale=1000),
        },
        "total": seen.count(),
    }
