"""Training progress of the running sessions, per node."""

from __future__ import annotations

from typing import cast

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from ncrsh_site.metrics import DatabaseCollector


class TrainingCollector(DatabaseCollector):
    def families(self) -> dict[str, Metric]:
        return {
            "loss": GaugeMetricFamily(
                "swarm_training_loss",
                "Current training loss, per node of a running session",
                labels=["session", "node"],
            ),
            "bpb": GaugeMetricFamily(
                "swarm_training_bpb",
                "Current training loss in bits per byte of text (comparable across tokenizers), per node",
                labels=["session", "node"],
            ),
            "tokens": GaugeMetricFamily(
                "swarm_training_tokens_per_second",
                "Training throughput in tokens/s, per node of a running session",
                labels=["session", "node"],
            ),
            "mfu": GaugeMetricFamily(
                "swarm_training_mfu",
                "Model FLOPs utilisation (0-1), per node of a running session whose device peak is known",
                labels=["session", "node"],
            ),
        }

    def fill(self, families: dict[str, Metric]) -> None:
        from training.models import ACTIVE_SESSION_STATUSES, NodeRun, RunStatus

        runs = NodeRun.objects.filter(session__status__in=ACTIVE_SESSION_STATUSES, status=RunStatus.TRAINING)
        rows = runs.values_list("session_id", "node_id", "loss", "bits_per_byte", "tokens_per_s", "mfu")
        for session_id, node_id, loss, bpb, tokens_per_s, mfu in rows:
            if loss is not None:
                cast(GaugeMetricFamily, families["loss"]).add_metric([session_id, node_id], loss)
            if bpb is not None:
                cast(GaugeMetricFamily, families["bpb"]).add_metric([session_id, node_id], bpb)
            if tokens_per_s is not None:
                cast(GaugeMetricFamily, families["tokens"]).add_metric([session_id, node_id], tokens_per_s)
            if mfu is not None:
                cast(GaugeMetricFamily, families["mfu"]).add_metric([session_id, node_id], mfu)
