"""The ledger's votes and decisions, from the counts it keeps as it writes (``Tally``)."""

from __future__ import annotations

from typing import cast

from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric

from ncrsh_site.metrics import DatabaseCollector


class ConsensusCollector(DatabaseCollector):
    def families(self) -> dict[str, Metric]:
        return {
            "votes": CounterMetricFamily("swarm_consensus_votes", "Consensus votes counter", labels=["outcome"]),
            "rounds": CounterMetricFamily("swarm_consensus_rounds", "Decided consensus rounds", labels=["outcome"]),
        }

    def fill(self, families: dict[str, Metric]) -> None:
        from consensus.models import Tally

        counts = dict(Tally.objects.values_list("name", "count"))
        for outcome in ("approve", "reject"):
            cast(CounterMetricFamily, families["votes"]).add_metric([outcome], counts.get(f"votes_{outcome}", 0))
        for outcome in ("committed", "failed"):
            cast(CounterMetricFamily, families["rounds"]).add_metric([outcome], counts.get(f"rounds_{outcome}", 0))
