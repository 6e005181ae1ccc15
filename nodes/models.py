from __future__ import annotations

import secrets

from django.db import models


class NodeStatus(models.TextChoices):
    """The life of a node.

    pending  - created through the API; no worker has claimed it yet
    active   - a worker is online and available for training sessions
    training - online and running a training session
    idle     - online but taking no new sessions (draining or paused by an operator)
    offline  - heartbeats stopped without a clean leave
    left     - the worker shut down cleanly and left the swarm
    """

    PENDING = "pending"
    ACTIVE = "active"
    TRAINING = "training"
    IDLE = "idle"
    OFFLINE = "offline"
    LEFT = "left"


# A node in one of these states is alive; the spec's "active" count and swarm_nodes_active.
ALIVE_STATUSES = (NodeStatus.ACTIVE, NodeStatus.TRAINING, NodeStatus.IDLE)


def new_node_id() -> str:
    return f"node_{secrets.token_hex(4)}"


class Node(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_node_id, editable=False)
    # NULL, not "": a pending node has no address yet, and null says so on the wire.
    address = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, help_text="host:port the node serves on"
    )
    status = models.CharField(max_length=16, choices=NodeStatus.choices, default=NodeStatus.PENDING, db_index=True)
    model_hash = models.CharField(  # noqa: DJ001
        max_length=80,
        null=True,
        blank=True,
        help_text="xxh3:<hex> of its weights (identity within a session); null before any",
    )
    last_seen = models.DateTimeField(null=True, blank=True)
    training_speed = models.FloatField(null=True, blank=True, help_text="relative to the fleet's fastest, 0-1")
    memory_usage = models.FloatField(null=True, blank=True, help_text="fraction of device memory in use, 0-1")
    memory_total = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="bytes of its training device's memory (embedded: its share of the host's)",
    )
    gpus = models.JSONField(
        default=list, blank=True, help_text="its worker's GPUs: [{index, name, memory_total (bytes)}]; empty on CPUs"
    )
    network_latency = models.FloatField(null=True, blank=True, help_text="milliseconds to the control plane")
    public_key = models.CharField(
        max_length=64, blank=True, default="", help_text="Ed25519, hex: its exchange votes count only signed with it"
    )
    config = models.JSONField(default=dict)
    network = models.JSONField(default=dict, blank=True, help_text="exchange traffic and latency: nodes/network.py")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=["created_at", "id"], name="node_list_order")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"
