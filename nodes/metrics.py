"""The fleet's nodes and their exchange traffic (``Node.network``)."""

from __future__ import annotations

from typing import cast

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, UnknownMetricFamily
from prometheus_client.metrics_core import Metric

from ncrsh_site.metrics import DatabaseCollector
from nodes.network import LATENCY_BUCKETS_S, ROUND_BUCKETS_S, Histogram, cumulative


class NodeCollector(DatabaseCollector):
    def families(self) -> dict[str, Metric]:
        return {
            # Untyped, not a gauge: the spec's name ends in _total, which Prometheus keeps for counters
            # (promtool rejects a gauge named so), and a count of nodes goes down as well as up.
            "total": UnknownMetricFamily("swarm_nodes_total", "Total number of nodes", labels=[]),
            "active": GaugeMetricFamily("swarm_nodes_active", "Active nodes (active, training or idle)", labels=[]),
            "latency": HistogramMetricFamily(
                "swarm_network_latency",
                "Network latency: seconds each fetch of a peer's update from the exchange took",
                labels=["node"],
            ),
            "bytes": CounterMetricFamily(
                "swarm_exchange_bytes",
                "Bytes a node sent to, or received from, the exchange",
                labels=["node", "direction"],
            ),
            "rounds": HistogramMetricFamily(
                "swarm_round_duration_seconds", "Seconds a node spent in each round", labels=["node"]
            ),
        }

    def fill(self, families: dict[str, Metric]) -> None:
        from nodes.models import Node
        from nodes.selectors import node_counts

        total, alive = node_counts()
        cast(UnknownMetricFamily, families["total"]).add_metric([], total)
        cast(GaugeMetricFamily, families["active"]).add_metric([], alive)
        for node_id, network in Node.objects.exclude(network={}).values_list("id", "network"):
            traffic = cast(CounterMetricFamily, families["bytes"])
            traffic.add_metric([node_id, "sent"], network.get("bytes_sent", 0))
            traffic.add_metric([node_id, "received"], network.get("bytes_received", 0))
            for key, bounds in (("latency", LATENCY_BUCKETS_S), ("round_seconds", ROUND_BUCKETS_S)):
                histogram: Histogram | None = network.get(key)
                if histogram:
                    family = cast(HistogramMetricFamily, families["latency" if key == "latency" else "rounds"])
                    family.add_metric([node_id], cumulative(histogram, bounds), histogram["sum"])
