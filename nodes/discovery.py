"""Peer discovery: ping the fleet through Celery's control channel (fleet), or the local nodes
(embedded), and reconcile the registry with who answered."""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from nodes.models import ALIVE_STATUSES, Node, NodeStatus
from nodes.services import DEFAULT_CONFIG


def _ping_fleet(timeout: float) -> dict[str, tuple[str, float]]:
    """node id -> (host, round-trip ms) for every worker that answers one broadcast ping; each
    reply is timed as it arrives."""
    from ncrsh_site.celery import app

    answered: dict[str, tuple[str, float]] = {}
    started = time.perf_counter()

    def arrived(reply: dict[str, object]) -> None:
        rtt = (time.perf_counter() - started) * 1000
        for hostname in reply:
            node_id, _, host = hostname.partition("@")
            answered[node_id] = (host, rtt)

    app.control.ping(timeout=timeout, callback=arrived)
    return answered


def _ping_local() -> dict[str, tuple[str, float]]:
    # Local nodes are threads of this process: alive while their heartbeat is fresh.
    fresh = timezone.now() - timedelta(seconds=settings.OFFLINE_AFTER_S)
    return {n.id: (n.address or "", 0.0) for n in Node.objects.filter(last_seen__gte=fresh)}


def network_discover(*, timeout: float = 1.0) -> dict[str, object]:
    """Ping the nodes (outside any transaction), then record who answered and who did not."""
    answered = _ping_local() if settings.EMBEDDED else _ping_fleet(timeout)
    return _record_discovery(answered)


@transaction.atomic
def _record_discovery(answered: dict[str, tuple[str, float]]) -> dict[str, object]:
    now = timezone.now()
    known = set(Node.objects.filter(id__in=answered).values_list("id", flat=True))
    discovered, updated = [], []
    for node_id, (host, rtt) in sorted(answered.items()):
        if node_id in known:
            Node.objects.filter(id=node_id).exclude(status=NodeStatus.TRAINING).update(status=NodeStatus.ACTIVE)
            Node.objects.filter(id=node_id).update(last_seen=now, network_latency=rtt, updated_at=now)
            updated.append(node_id)
        else:
            Node.objects.create(
                id=node_id, address=host, status=NodeStatus.ACTIVE, last_seen=now, network_latency=rtt,
                config=DEFAULT_CONFIG,
            )  # fmt: skip
            discovered.append(node_id)
    lost = list(
        Node.objects.filter(status__in=ALIVE_STATUSES)
        .exclude(id__in=answered)
        .order_by("id")
        .values_list("id", flat=True)
    )
    Node.objects.filter(id__in=lost).update(status=NodeStatus.OFFLINE, updated_at=now)
    return {
        "discovered": discovered,
        "updated": updated,
        "lost": lost,
        "latency_ms": {node_id: round(rtt, 3) for node_id, (_, rtt) in sorted(answered.items())},
    }
