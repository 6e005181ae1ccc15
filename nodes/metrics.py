"""The fleet's nodes and their exchange traffic (``Node.network``): fleet-level series, summed
over the nodes in the database (one aggregate query); per-node series instead with
NCRSH_METRICS_PER_NODE (small fleets: 34 series per node)."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, UnknownMetricFamily
from prometheus_client.metrics_core import Metric

from ncrsh_site.metrics import DatabaseCollector
from nodes.network import LATENCY_BUCKETS_S, ROUND_BUCKETS_S, Histogram, cumulative


class NodeCollector(DatabaseCollector):
    def families(self) -> dict[str, Metric]:
        labels = ["node"] if settings.METRICS_PER_NODE else []
        return {
            # Untyped, not a gauge: the spec's name ends in _total, which Prometheus keeps for counters
            # (promtool rejects a gauge named so), and a count of nodes goes down as well as up.
            "total": UnknownMetricFamily("swarm_nodes_total", "Total number of nodes", labels=[]),
            "active": GaugeMetricFamily("swarm_nodes_active", "Active nodes (active, training or idle)", labels=[]),
            "latency": HistogramMetricFamily(
                "swarm_network_latency",
                "Network latency: seconds each fetch of a peer's update from the exchange took",
                labels=labels,
            ),
            "bytes": CounterMetricFamily(
                "swarm_exchange_bytes",
                "Bytes the nodes sent to, or received from, the exchange",
                labels=[*labels, "direction"],
            ),
            "rounds": HistogramMetricFamily(
                "swarm_round_duration_seconds", "Seconds a node spent in each round", labels=labels
            ),
        }

    def fill(self, families: dict[str, Metric]) -> None:
        from nodes.models import Node
        from nodes.selectors import network_totals, node_counts

        total, alive = node_counts()
        cast(UnknownMetricFamily, families["total"]).add_metric([], total)
        cast(GaugeMetricFamily, families["active"]).add_metric([], alive)
        if settings.METRICS_PER_NODE:
            for node_id, network in Node.objects.exclude(network={}).values_list("id", "network"):
                self._add(families, [node_id], network)
        else:
            self._add(families, [], network_totals(Node.objects.all()))

    @staticmethod
    def _add(families: dict[str, Metric], labels: list[str], network: dict[str, object]) -> None:
        traffic = cast(CounterMetricFamily, families["bytes"])
        traffic.add_metric([*labels, "sent"], cast(int, network.get("bytes_sent", 0)))
        traffic.add_metric([*labels, "received"], cast(int, network.get("bytes_received", 0)))
        for key, name, bounds in (
            ("latency", "latency", LATENCY_BUCKETS_S),
            ("round_seconds", "rounds", ROUND_BUCKETS_S),
        ):
            histogram = cast(Histogram | None, network.get(key))
            if histogram and histogram["count"]:
                family = cast(HistogramMetricFamily, families[name])
                family.add_metric(labels, cumulative(histogram, bounds), histogram["sum"])
