"""Node gauges computed from the database at scrape time, so that every web process reports the
whole fleet, whichever process (or host) changed it."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class NodeCountCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Declared without querying: registration happens at start-up, before the DB may exist.
        yield GaugeMetricFamily("swarm_nodes_total", "Total number of nodes")
        yield GaugeMetricFamily("swarm_nodes_active", "Active nodes count (active, training or idle)")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from nodes.selectors import node_counts

        total, alive = node_counts()
        yield GaugeMetricFamily("swarm_nodes_total", "Total number of nodes", value=total)
        yield GaugeMetricFamily("swarm_nodes_active", "Active nodes count (active, training or idle)", value=alive)
