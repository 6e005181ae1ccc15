"""Training progress of the running sessions: per session (the mean loss, bits per byte and MFU of
its training nodes, their summed tokens/s), or per node with NCRSH_METRICS_PER_NODE."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from ncrsh_site.metrics import DatabaseCollector


class TrainingCollector(DatabaseCollector):
    def families(self) -> dict[str, Metric]:
        labels = ["session", "node"] if settings.METRICS_PER_NODE else ["session"]
        of = "per node of a running session" if settings.METRICS_PER_NODE else "of a running session's nodes"
        return {
            "loss": GaugeMetricFamily("swarm_training_loss", f"Current training loss, {of}", labels=labels),
            "bpb": GaugeMetricFamily(
                "swarm_training_bpb",
                f"Current training loss in bits per byte of text (comparable across tokenizers), {of}",
                labels=labels,
            ),
            "tokens": GaugeMetricFamily(
                "swarm_training_tokens_per_second", f"Training throughput in tokens/s, {of}", labels=labels
            ),
            "mfu": GaugeMetricFamily(
                "swarm_training_mfu",
                f"Model FLOPs utilisation (0-1), {of} whose device peak is known",
                labels=labels,
            ),
        }

    def fill(self, families: dict[str, Metric]) -> None:
        from django.db.models import Avg, Sum

        from training.models import ACTIVE_SESSION_STATUSES, NodeRun, RunStatus

        runs = NodeRun.objects.filter(session__status__in=ACTIVE_SESSION_STATUSES, status=RunStatus.TRAINING)
        samples: list[tuple[list[str], list[float | None]]]
        if settings.METRICS_PER_NODE:
            per_node = runs.values_list("session_id", "node_id", "loss", "bits_per_byte", "tokens_per_s", "mfu")
            samples = [([session_id, node_id], [*values]) for session_id, node_id, *values in per_node]
        else:
            sessions = runs.order_by().values("session_id")
            figures = sessions.annotate(Avg("loss"), Avg("bits_per_byte"), Sum("tokens_per_s"), Avg("mfu"))
            per_session = figures.values_list(
                "session_id", "loss__avg", "bits_per_byte__avg", "tokens_per_s__sum", "mfu__avg"
            )
            samples = [([session_id], [*values]) for session_id, *values in per_session]
        for labels, values in samples:
            for name, value in zip(("loss", "bpb", "tokens", "mfu"), values, strict=True):
                if value is not None:
                    cast(GaugeMetricFamily, families[name]).add_metric(labels, value)
