"""Robust aggregation of the accepted updates (flat float32 vectors of equal length).

Each aggregator states how many faulty updates ``f`` it tolerates among ``n`` and refuses a
configuration that breaks its bound, instead of silently averaging poison in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from engine.config import AggregatorConfig
from engine.errors import AggregatorBoundError
from engine.vectors import chunks

_NON_FINITE = "non-finite update reached aggregation; validation must reject it first"


def aggregate(
    updates: Sequence[torch.Tensor], config: AggregatorConfig, *, out: torch.Tensor | None = None
) -> torch.Tensor:
    """The aggregate of ``updates``; the mean is written into ``out`` if given (a buffer the
    caller owns and reuses), the others come back in a new tensor."""
    config.check(len(updates))
    if config.name == "mean":
        # A running sum, chunk by chunk: one pass over memory, no (n, P) copy. NaN and inf
        # propagate into the sum, so one check suffices (an overflow counts as non-finite).
        total = torch.empty_like(updates[0], dtype=torch.float32) if out is None else out
        finite_probe = 0.0
        for piece, *parts in chunks(total, *updates):
            if len(parts) == 1:
                piece.copy_(parts[0])
            else:
                torch.add(parts[0], parts[1], out=piece)
            for part in parts[2:]:
                piece += part
            piece /= len(parts)
            finite_probe += float(piece.sum())
        if not math.isfinite(finite_probe):
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
