"""The ledger's votes and decisions, counted from its tables."""

from __future__ import annotations

from typing import cast

from django.db.models import Count
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
        from consensus.models import Decision, Vote

        votes = dict(Vote.objects.order_by().values("approve").annotate(n=Count("id")).values_list("approve", "n"))
        rounds = dict(
            Decision.objects.order_by().values("committed").annotate(n=Count("id")).values_list("committed", "n")
        )
        for outcome, approve in (("approve", True), ("reject", False)):
            cast(CounterMetricFamily, families["votes"]).add_metric([outcome], votes.get(approve, 0))
        for outcome, committed in (("committed", True), ("failed", False)):
            cast(CounterMetricFamily, families["rounds"]).add_metric([outcome], rounds.get(committed, 0))
