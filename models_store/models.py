from __future__ import annotations

import secrets

from django.db import models


def new_model_id() -> str:
    return f"model_{secrets.token_hex(4)}"


class Checkpoint(models.Model):
    """A verified model file under ``NCRSH_HOME/checkpoints``; its name is ours, never a client's."""

    id = models.CharField(primary_key=True, max_length=64, default=new_model_id, editable=False)
    session = models.ForeignKey(
        "training.TrainingSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="checkpoints"
    )
    round = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    filename = models.CharField(max_length=128, unique=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    model_hash = models.CharField(max_length=80, blank=True, default="", db_index=True)
    metrics = models.JSONField(default=dict)
    model_config = models.JSONField(default=dict)
    loaded_at = models.DateTimeField(null=True, blank=True, help_text="chosen as the next session's start")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "id")

    def __str__(self) -> str:
        return f"{self.id} ({self.session_id or 'no session'}, round {self.round})"


class DatasetStatus(models.TextChoices):
    PREPARING = "preparing"
    READY = "ready"
    FAILED = "failed"


class Dataset(models.Model):
    name = models.CharField(primary_key=True, max_length=100)
    source = models.CharField(max_length=512, help_text="the dataset spec it was prepared from")
    tokenizer = models.CharField(max_length=512, help_text="byte, bpe, hf:<name> or file:<path>")
    vocab_size = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.PREPARING)
    tokens = models.BigIntegerField(default=0, help_text="tokens written so far (all of them once ready)")
    bytes = models.BigIntegerField(default=0, help_text="UTF-8 bytes of text read so far")
    manifest = models.JSONField(default=dict, blank=True)
    tokenizer_json = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"
