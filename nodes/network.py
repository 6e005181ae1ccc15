"""What the nodes measure of their exchange, kept on each node's row (``Node.network``, written by
``nodes.services.network_record``) so that any process, on any host, reports the whole fleet from
the database.

``Node.network`` holds, since the node was created: ``bytes_sent`` / ``bytes_received`` through
the exchange, ``latency`` (seconds each fetch of a peer's update took) and ``round_seconds``
histograms; and for its current session: ``session``, ``partition`` (its last round saw fewer
than a majority), and ``peers`` — per peer whose updates it fetched, the bytes, fetch count and
latency of that edge of the exchange pattern.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any, TypedDict

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROUND_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Histogram(TypedDict):
    counts: list[int]  # per bucket (not cumulative); the last one is past the largest bound
    sum: float
    count: int
    min: float | None
    max: float | None


def empty(bounds: Sequence[float]) -> Histogram:
    return {"counts": [0] * (len(bounds) + 1), "sum": 0.0, "count": 0, "min": None, "max": None}


def observe(histogram: Histogram | None, value: float, bounds: Sequence[float]) -> Histogram:
    h = histogram or empty(bounds)
    h["counts"][bisect.bisect_left(bounds, value)] += 1
    h["sum"] += value
    h["count"] += 1
    h["min"] = value if h["min"] is None else min(h["min"], value)
    h["max"] = value if h["max"] is None else max(h["max"], value)
    return h


def merged(histograms: Sequence[Histogram], bounds: Sequence[float]) -> Histogram:
    total = empty(bounds)
    for h in histograms:
        total["counts"] = [a + b for a, b in zip(total["counts"], h["counts"], strict=True)]
        total["sum"] += h["sum"]
        total["count"] += h["count"]
    lows = [h["min"] for h in histograms if h["min"] is not None]
    highs = [h["max"] for h in histograms if h["max"] is not None]
    total["min"], total["max"] = min(lows, default=None), max(highs, default=None)
    return total


def cumulative(h: Histogram, bounds: Sequence[float]) -> list[tuple[str, float]]:
    """Prometheus buckets: ``le`` and the count at or below it, ending with +Inf."""
    running, buckets = 0, []
    for bound, count in zip(bounds, h["counts"], strict=False):
        running += count
        buckets.append((repr(float(bound)), float(running)))
    buckets.append(("+Inf", float(h["count"])))
    return buckets


def quantile(h: Histogram, bounds: Sequence[float], q: float) -> float | None:
    """Estimated like PromQL's histogram_quantile: linear within the bucket, clamped to the
    observed min and max."""
    if not h["count"]:
        return None
    rank, running = q * h["count"], 0
    for i, count in enumerate(h["counts"]):
        if count and running + count >= rank:
            low = bounds[i - 1] if i else 0.0
            high = bounds[i] if i < len(bounds) else float(h["max"] or low)
            estimate = low + (high - low) * (rank - running) / count
            return min(max(estimate, float(h["min"] or 0.0)), float(h["max"] or estimate))
        running += count
    return h["max"]


def summary(h: Histogram | None, bounds: Sequence[float], *, scale: float = 1.0) -> dict[str, Any]:
    """count, mean, min, max, p50, p99 — in seconds, or times ``scale`` (1000: milliseconds)."""
    h = h or empty(bounds)

    def scaled(value: float | None) -> float | None:
        return None if value is None else value * scale

    return {
        "count": h["count"],
        "mean": scaled(h["sum"] / h["count"]) if h["count"] else None,
        "min": scaled(h["min"]),
        "max": scaled(h["max"]),
        "p50": scaled(quantile(h, bounds, 0.5)),
        "p99": scaled(quantile(h, bounds, 0.99)),
    }
