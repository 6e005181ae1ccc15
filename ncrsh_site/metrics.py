"""Prometheus collectors whose values come from the database at scrape time: every web process
(on any host) reports the whole fleet, whichever process or worker did the work, and nothing
needs prometheus_client's multiprocess mode."""

from __future__ import annotations

import hmac
import threading
import time
from abc import abstractmethod
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus.exports import ExportToDjangoView
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ncrsh_site.errors import error_body


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


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics``: open by default (as Prometheus expects), or only to scrapers that send
    ``Authorization: Bearer <NCRSH_METRICS_TOKEN>`` when that is set (Prometheus'
    ``authorization`` scrape option)."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            response = JsonResponse(
                error_body(401, "NOT_AUTHENTICATED", "/metrics needs the metrics bearer token."), status=401
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return _exposition(request)


_built: dict[str, tuple[float, bytes, str]] = {}
_building = threading.Lock()


def _exposition(request: HttpRequest) -> HttpResponse:
    """The exposition, built at most once per NCRSH_METRICS_CACHE_S in this process (per format:
    Prometheus' text or OpenMetrics, as the scraper's Accept header chooses): scrapers arriving
    while it is built wait for that one instead of building their own."""
    ttl = settings.METRICS_CACHE_S
    if ttl <= 0:
        return ExportToDjangoView(request)
    kind = "openmetrics" if "application/openmetrics-text" in request.headers.get("Accept", "") else "text"
    with _building:
        cached = _built.get(kind)
        if cached is not None and time.monotonic() - cached[0] < ttl:
            return HttpResponse(cached[1], content_type=cached[2])
        response = ExportToDjangoView(request)
        _built[kind] = (time.monotonic(), response.content, response["Content-Type"])
        return response
