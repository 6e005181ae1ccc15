from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet

from models_store.models import Checkpoint, Dataset, DatasetStatus
from ncrsh_site.errors import NotFound


def checkpoint_list(*, session_id: str | None = None) -> QuerySet[Checkpoint]:
    checkpoints = Checkpoint.objects.all()
    return checkpoints.filter(session_id=session_id) if session_id else checkpoints


def checkpoint_get(*, model_id: str) -> Checkpoint:
    try:
        return Checkpoint.objects.get(id=model_id)
    except Checkpoint.DoesNotExist:
        raise NotFound(f"No model with id {model_id!r}.") from None


def checkpoint_path(checkpoint: Checkpoint) -> Path:
    # Only names we generated are stored; the folder is fixed by the server's settings.
    return settings.CHECKPOINT_DIR / Path(checkpoint.filename).name


def checkpoint_to_load() -> Checkpoint | None:
    return Checkpoint.objects.filter(loaded_at__isnull=False).order_by("-loaded_at").first()


def dataset_list() -> QuerySet[Dataset]:
    """Ready datasets only: one being prepared, or whose preparation failed, is not listed."""
    return Dataset.objects.filter(status=DatasetStatus.READY)


def dataset_get(*, name: str) -> Dataset:
    row = Dataset.objects.filter(name=name).first()
    if row is None:
        raise NotFound(f"No dataset named {name!r}: prepare it (POST /api/v1/datasets or `ncrsh data prepare`).")
    return row
