"""Robust aggregation of the accepted updates (flat float32 vectors of equal length).

Each aggregator states how many faulty updates ``f`` it tolerates among ``n`` and refuses a
configuration that breaks its bound, instead of silently averaging poison in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from training.engine.errors import AggregatorBoundError

AGGREGATORS = ("mean", "trimmed_mean", "median", "krum")


@dataclass(frozen=True)
class AggregatorConfig:
    """name: mean | trimmed_mean | median | krum
    f: faulty updates to tolerate (mean: 0; trimmed_mean: trims max(f, floor(beta*n)) per side;
       median: needs n >= 2f+1; krum: needs n >= 2f+3)
    beta: trimmed_mean's fraction cut from each side."""

    name: str = "mean"
    f: int = 0
    beta: float = 0.25

    def __post_init__(self) -> None:
        if self.name not in AGGREGATORS:
            raise ValueError(f"aggregator must be one of {', '.join(AGGREGATORS)}, got {self.name!r}")
        if self.f < 0 or not 0.0 <= self.beta < 0.5:
            raise ValueError("f must be >= 0 and beta in [0, 0.5)")

    def check(self, n: int) -> None:
        """Raise AggregatorBoundError if ``n`` updates cannot tolerate ``f`` faulty ones."""
        if n < 1:
            raise AggregatorBoundError(f"{self.name}: nothing to aggregate")
        if self.name == "mean" and self.f > 0:
            raise AggregatorBoundError(f"mean tolerates no faulty update (f={self.f}); use a robust aggregator")
        if self.name == "trimmed_mean" and n - 2 * self._trim(n) < 1:
            raise AggregatorBoundError(
                f"trimmed_mean cuts {self._trim(n)} per side of {n} updates: nothing left (needs n >= 2k+1)"
            )
        if self.name == "median" and n < 2 * self.f + 1:
            raise AggregatorBoundError(f"median needs n >= 2f+1: n={n}, f={self.f}")
        if self.name == "krum" and n < 2 * self.f + 3:
            raise AggregatorBoundError(f"krum needs n >= 2f+3: n={n}, f={self.f}")

    def _trim(self, n: int) -> int:
        return max(self.f, math.floor(self.beta * n))


_NON_FINITE = "non-finite update reached aggregation; validation must reject it first"


def aggregate(updates: Sequence[torch.Tensor], config: AggregatorConfig) -> torch.Tensor:
    config.check(len(updates))
    if config.name == "mean":
        # A running sum: one pass, no (n, P) copy. NaN and inf propagate, so one check suffices.
        total = updates[0].float().clone()
        for update in updates[1:]:
            total += update
        total /= len(updates)
        if not math.isfinite(float(total.sum())):  # one read pass; an overflow counts as non-finite
            raise AggregatorBoundError(_NON_FINITE)
        return total
    stacked = torch.stack(list(updates)).float()  # (n, P)
    if not torch.isfinite(stacked).all():
        raise AggregatorBoundError(_NON_FINITE)
    if config.name == "median":
        # torch.median returns the lower middle; average the two middles for even n.
        ordered = stacked.sort(0).values
        n = len(updates)
        return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    if config.name == "trimmed_mean":
        k = config._trim(len(updates))
        return stacked.sort(0).values[k : len(updates) - k].mean(0)
    return _krum(stacked, config.f)


def _krum(stacked: torch.Tensor, f: int) -> torch.Tensor:
    """Blanchard et al. 2017: the update closest to its n-f-2 nearest neighbours."""
    n = stacked.shape[0]
    distances = torch.cdist(stacked, stacked).pow(2)  # (n, n)
    neighbours = n - f - 2
    scores = distances.sort(1).values[:, 1 : neighbours + 1].sum(1)  # skip the distance to itself
    return stacked[int(scores.argmin())].clone()
