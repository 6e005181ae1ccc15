from __future__ import annotations

import secrets

from django.db import models

from training.plan import SessionPlan


def new_session_id() -> str:
    return f"training_{secrets.token_hex(4)}"


class SessionStatus(models.TextChoices):
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"


ACTIVE_SESSION_STATUSES = (SessionStatus.RUNNING, SessionStatus.STOPPING)


class TrainingSession(models.Model):
    """A training run over some nodes. ``config`` holds its plan (read it as ``plan``);
    ``metrics`` the final figures; ``final_model`` the checkpoint it ended with."""

    id = models.CharField(primary_key=True, max_length=64, default=new_session_id, editable=False)
    status = models.CharField(max_length=16, choices=SessionStatus.choices, default=SessionStatus.RUNNING)
    dataset = models.CharField(max_length=512)
    strategy = models.CharField(max_length=32)
    epochs = models.PositiveIntegerField(default=1)
    batch_size = models.PositiveIntegerField()
    learning_rate = models.FloatField()
    max_steps = models.PositiveIntegerField(null=True, blank=True)
    config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    error = models.TextField(blank=True, default="")
    initial_checkpoint = models.ForeignKey(
        "models_store.Checkpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    final_model = models.ForeignKey(
        "models_store.Checkpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    stop_requested_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Started on every active node (no node list): nodes that come up while it runs join it.
    admits_nodes = models.BooleanField(default=False)
    # Nodes admitted while it runs, each from a round on: [{"from_round": r, "node_id": id}]; and
    # the last round whose members a node has asked for (training.services.session_members_fix):
    # an admission never changes the members of that round or of one before it.
    joined = models.JSONField(default=list, blank=True)
    members_fixed_through = models.IntegerField(default=-1)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["-created_at"], name="session_newest_first")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def plan(self) -> SessionPlan:
        return SessionPlan.from_json({"dataset": self.dataset, **self.config})

    def members_at(self, index: int) -> list[str]:
        """Round ``index``'s members: the plan's, then each admitted node from its round on."""
        return [*self.plan.members, *(j["node_id"] for j in self.joined if j["from_round"] <= index)]

    @property
    def members(self) -> list[str]:
        """Every node taking part: the plan's and those admitted since."""
        return [*self.plan.members, *(j["node_id"] for j in self.joined)]

    def first_round_of(self, node_id: str) -> int:
        """The first round ``node_id`` is a member of."""
        return next((j["from_round"] for j in self.joined if j["node_id"] == node_id), 0)


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    TRAINING = "training"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"
    OFFLINE = "offline"


FINISHED_RUN_STATUSES = (RunStatus.STOPPED, RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.OFFLINE)


class NodeRun(models.Model):
    """One node's part in a session. An incarnation claims it by compare-and-set, writing its
    token to ``claimed_by``: a redelivered task never trains twice, and only the incarnation
    holding the claim may report or finish the run (a rejoin re-queues it under a new claim)."""

    session = models.ForeignKey(TrainingSession, on_delete=models.CASCADE, related_name="runs")
    node = models.ForeignKey("nodes.Node", on_delete=models.CASCADE, related_name="runs")
    rank = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    epoch = models.PositiveIntegerField(default=0)
    batch_progress = models.FloatField(default=0.0)
    loss = models.FloatField(null=True, blank=True)
    bits_per_byte = models.FloatField(null=True, blank=True, help_text="the loss in bits per byte of text")
    accuracy = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    mfu = models.FloatField(null=True, blank=True, help_text="model FLOPs utilisation, 0-1 (a device of known peak)")
    round = models.PositiveIntegerField(default=0)
    model_hash = models.CharField(max_length=80, blank=True, default="")
    metrics = models.JSONField(default=dict)
    error = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("session", "rank")
        constraints = [models.UniqueConstraint(fields=("session", "node"), name="one_run_per_node_and_session")]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.node_id} ({self.status})"
