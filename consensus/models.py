"""The consensus ledger: why the shared model changed, round by round.

Every node reports the rounds it took part in; the rows are written idempotently (one round,
proposal, vote and decision each, whoever reports first), so the ledger is the same whichever
node's report arrives first or is lost.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class RoundStatus(models.TextChoices):
    OPEN = "open"
    COMMITTED = "committed"
    FAILED = "failed"


class Round(models.Model):
    session = models.ForeignKey("training.TrainingSession", on_delete=models.CASCADE, related_name="rounds")
    index = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=RoundStatus.choices, default=RoundStatus.OPEN)
    members = models.JSONField(default=list)
    base_hash = models.CharField(max_length=80, blank=True, default="")
    deadline = models.DateTimeField(null=True, blank=True, help_text="when the round stops waiting for votes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-index")
        constraints = [models.UniqueConstraint(fields=("session", "index"), name="one_round_per_index")]

    def __str__(self) -> str:
        return f"{self.session_id} round {self.index} ({self.status})"

    @property
    def public_id(self) -> str:
        return f"round_{self.session_id.removeprefix('training_')}_{self.index}"


class ProposalOutcome(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Proposal(models.Model):
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="proposals")
    node_id = models.CharField(max_length=64, help_text="kept as text: the history outlives the node")
    outcome = models.CharField(max_length=16, choices=ProposalOutcome.choices, default=ProposalOutcome.PENDING)
    norm = models.FloatField(null=True, blank=True, help_text="L2 norm of the update")
    samples = models.PositiveBigIntegerField(null=True, blank=True, help_text="training samples behind it")
    loss = models.FloatField(null=True, blank=True, help_text="the proposer's local training loss")

    class Meta:
        ordering = ("round", "node_id")
        constraints = [models.UniqueConstraint(fields=("round", "node_id"), name="one_proposal_per_node")]

    def __str__(self) -> str:
        return f"{self.round} by {self.node_id} ({self.outcome})"

    @property
    def public_id(self) -> str:
        return f"proposal_{self.round.session_id.removeprefix('training_')}_{self.round.index}_{self.node_id}"


class Vote(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=128, help_text="a node id, or operator:<username>")
    approve = models.BooleanField()
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("proposal", "voter")
        constraints = [models.UniqueConstraint(fields=("proposal", "voter"), name="one_vote_per_voter")]

    def __str__(self) -> str:
        return f"{self.voter} {'approves' if self.approve else 'rejects'} {self.proposal}"


class Decision(models.Model):
    round = models.OneToOneField(Round, on_delete=models.CASCADE, related_name="decision")
    committed = models.BooleanField()
    accepted = models.JSONField(default=list)
    rejected = models.JSONField(default=list)
    approvals = models.JSONField(default=dict)
    rejections = models.JSONField(default=dict)
    aggregator = models.JSONField(default=dict)
    model_hash = models.CharField(max_length=80, blank=True, default="", help_text="the model after the round")
    reason = models.TextField(blank=True, default="")
    decided_by = models.CharField(max_length=64, blank=True, default="")
    base_hash = models.CharField(max_length=80, blank=True, default="", help_text="the model the round started from")
    confirmed_by = models.JSONField(default=list, blank=True, help_text="nodes that ended the round with model_hash")
    diverged = models.JSONField(
        default=dict, blank=True, help_text="nodes that ended it with another model: their hash"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["-created_at"], name="decision_newest_first")]

    def __str__(self) -> str:
        return f"{self.round}: {'committed' if self.committed else 'failed'}"

    def as_engine(self) -> dict[str, Any]:
        """The fields of the engine's Decision (engine.quorum), as recorded."""
        return {
            "round_index": self.round.index,
            "accepted": list(self.accepted),
            "rejected": list(self.rejected),
            "approvals": dict(self.approvals),
            "rejections": dict(self.rejections),
            "committed": self.committed,
            "reason": self.reason,
            "decided_by": self.decided_by,
            "base_hash": self.base_hash,
        }


class Tally(models.Model):
    """Counts the ledger keeps as it writes (``consensus.services.tally``), so that a scrape of
    ``/metrics`` reads a few rows instead of counting millions: votes by outcome, decided rounds
    by outcome. Counters in Prometheus' sense: they only go up (a deleted session's votes were
    still cast)."""

    name = models.CharField(primary_key=True, max_length=32)
    count = models.BigIntegerField(default=0)

    NAMES = ("votes_approve", "votes_reject", "rounds_committed", "rounds_failed")

    def __str__(self) -> str:
        return f"{self.name}: {self.count}"
