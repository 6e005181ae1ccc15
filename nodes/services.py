from __future__ import annotations

import hashlib
import socket
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ncrsh_site.errors import Conflict, NodeNotFound
from ncrsh_site.events import publish_on_commit
from nodes.models import ALIVE_STATUSES, Node, NodeStatus
from nodes.network import LATENCY_BUCKETS_S, ROUND_BUCKETS_S, observe
from nodes.selectors import node_get

# The spec's example node: the defaults of POST /api/v1/nodes and of nodes that register themselves.
DEFAULT_CONFIG: dict[str, Any] = {
    "model_config": {"hidden_size": 512, "num_layers": 6, "num_heads": 8},
    "network_config": {"port": 8080, "max_peers": 10},
}


def stable_node_id(*, host: str, device: str) -> str:
    """The same host and device give the same id after every restart."""
    return "node_" + hashlib.sha256(f"{host}/{device}".encode()).hexdigest()[:8]


@transaction.atomic
def node_create(*, config: dict[str, Any]) -> Node:
    """A node that a worker will claim (``ncrsh worker --node <id>``); it starts pending.
    In the embedded mode the server process is the worker: the node is local and alive at once."""
    if settings.EMBEDDED:
        node = Node.objects.create(
            config=config, status=NodeStatus.ACTIVE, address=f"{socket.gethostname()}/local", last_seen=timezone.now()
        )
        _announce("node_joined", node)
        return node
    return Node.objects.create(config=config)


def _announce(type_: str, node: Node, **extra: str) -> None:
    publish_on_commit(type_, {"node_id": node.id, "address": node.address, "status": node.status, **extra})


@transaction.atomic
def node_delete(*, node_id: str) -> None:
    """Remove a node; not while it trains (its run would vanish from the session while the
    worker goes on training): stop the session first."""
    node = Node.objects.select_for_update().filter(id=node_id).first() or node_get(node_id=node_id)
    if node.status == NodeStatus.TRAINING:
        raise Conflict(f"{node_id} is training in a session: stop it first (POST /api/v1/training/stop).")
    node.delete()
    if node.status in ALIVE_STATUSES:
        _announce("node_left", node, reason="deleted")


@transaction.atomic
def node_register(
    *,
    node_id: str,
    address: str,
    claim: bool = False,
    memory_total: int | None = None,
    gpus: list[dict[str, Any]] | None = None,
    public_key: str = "",
) -> Node:
    """A worker comes online, with the memory of the device it trains on (None: unknown), its GPUs
    (``nodes.hardware.gpus``; none on a CPU) and the public half of its node key (its credential
    from now on: nodes.identity). With ``claim`` the node must exist (created through the API and
    pending or known); otherwise it is created or updated."""
    now = timezone.now()
    if claim:
        node = Node.objects.select_for_update().filter(id=node_id).first()
        if node is None:
            raise NodeNotFound(f"No node with id {node_id!r} to claim; create it with POST /api/v1/nodes.")
    else:
        node, _ = Node.objects.select_for_update().get_or_create(id=node_id, defaults={"config": DEFAULT_CONFIG})
    node.address, node.status, node.last_seen, node.memory_total = address, NodeStatus.ACTIVE, now, memory_total
    node.gpus = gpus or []
    node.public_key = public_key or node.public_key
    node.save(update_fields=["address", "status", "last_seen", "memory_total", "gpus", "public_key", "updated_at"])
    _announce("node_joined", node)
    return node


def node_heartbeat(
    *, node_id: str, performance: dict[str, float | None], gpus: list[dict[str, Any]] | None = None
) -> bool:
    """Record that the node is alive (with its GPUs' figures now, if it has GPUs); returns False
    if it no longer exists (deleted)."""
    fields: dict[str, Any] = {
        k: v for k, v in performance.items() if k in ("training_speed", "memory_usage", "network_latency")
    }
    if gpus:
        fields["gpus"] = gpus
    updated = Node.objects.filter(id=node_id).update(last_seen=timezone.now(), updated_at=timezone.now(), **fields)
    # A node marked offline by a missed beat comes back.
    if Node.objects.filter(id=node_id, status=NodeStatus.OFFLINE).update(status=NodeStatus.ACTIVE):
        _announce("node_joined", Node.objects.get(id=node_id), reason="back online")
    return updated == 1


def node_leave(*, node_id: str) -> None:
    if Node.objects.filter(id=node_id).update(status=NodeStatus.LEFT, updated_at=timezone.now()):
        _announce("node_left", Node.objects.get(id=node_id), reason="left")


@transaction.atomic
def node_sweep_offline() -> list[str]:
    """Alive nodes whose last heartbeat is older than NCRSH_OFFLINE_AFTER_S turn offline, all in
    one UPDATE, announced by one ``node_left`` event (``node_ids`` and ``count`` where several
    went at once). Rows a heartbeat holds are skipped (that node is alive: the next sweep sees)."""
    cutoff = timezone.now() - timedelta(seconds=settings.OFFLINE_AFTER_S)
    stale = Node.objects.filter(status__in=ALIVE_STATUSES, last_seen__lt=cutoff)
    gone = list(stale.select_for_update(skip_locked=True).order_by("id").values_list("id", "address"))
    ids = [node_id for node_id, _ in gone]
    if not ids:
        return []
    Node.objects.filter(id__in=ids).update(status=NodeStatus.OFFLINE, updated_at=timezone.now())
    offline, reason = NodeStatus.OFFLINE, "heartbeat missed"
    if len(gone) == 1:
        ((node_id, address),) = gone
        _announce("node_left", Node(id=node_id, address=address, status=offline), reason=reason)
    else:
        publish_on_commit("node_left", {"node_ids": ids, "count": len(ids), "status": offline, "reason": reason})
    return ids


@transaction.atomic
def network_record(
    *,
    node_id: str,
    session_id: str,
    sent: int,
    received: int,
    fetched: dict[str, tuple[int, float]],
    round_seconds: float,
    partition: bool,
) -> None:
    """One finished round of ``node_id``: its traffic, the latency of each fetch, the round's length."""
    node = Node.objects.select_for_update().filter(id=node_id).first()
    if node is None:  # deleted while training
        return
    network: dict[str, Any] = dict(node.network or {})
    if network.get("session") != session_id:
        network.update(session=session_id, peers={})
    network["bytes_sent"] = network.get("bytes_sent", 0) + sent
    network["bytes_received"] = network.get("bytes_received", 0) + received
    network["round_seconds"] = observe(network.get("round_seconds"), round_seconds, ROUND_BUCKETS_S)
    network["partition"] = partition
    for peer, (size, seconds) in fetched.items():
        network["latency"] = observe(network.get("latency"), seconds, LATENCY_BUCKETS_S)
        edge = network["peers"].setdefault(peer, {"bytes": 0, "fetches": 0, "latency_sum_s": 0.0})
        edge["bytes"] += size
        edge["fetches"] += 1
        edge["latency_sum_s"] += seconds
        edge["latency_last_s"] = seconds
    node.network = network
    node.save(update_fields=["network"])
