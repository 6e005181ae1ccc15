"""Prometheus collectors whose values come from the database at scrape time: every web process
(on any host) reports the whole fleet, whichever process or worker did the work, and nothing
needs prometheus_client's multiprocess mode."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector


class DatabaseCollector(Collector):
    @abstractmethod
    def families(self) -> dict[str, Metric]:
        """The metric families, empty: declared at start-up, before the database may exist."""

    @abstractmethod
    def fill(self, families: dict[str, Metric]) -> None:
        """Add the samples, read from the database."""

    def describe(self) -> Iterator[Metric]:
        return iter(self.families().values())

    def collect(self) -> Iterator[Metric]:
        families = self.families()
        self.fill(families)
        return iter(families.values())
