"""Validation of peers' proposals: a pure function, no I/O (the tally is in quorum.py).

A node approves a proposal when it is finite, its norm is at most ``kappa`` times the median
norm of the round's proposals, and (when a held-out loss probe is given) applying it does not
raise the node's held-out loss by more than ``epsilon`` (relative).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from engine.quorum import Vote


def judge(
    updates: Mapping[str, torch.Tensor],
    *,
    voter: str,
    kappa: float,
    epsilon: float,
    base_loss: float | None = None,
    loss_after: Callable[[torch.Tensor], float] | None = None,
) -> list[Vote]:
    """One node's votes on the round's proposals, in proposer order."""
    norms = {node: float(update.float().norm()) for node, update in updates.items()}
    finite_norms = sorted(n for n in norms.values() if math.isfinite(n))
    median = finite_norms[len(finite_norms) // 2] if finite_norms else math.inf
    votes = []
    for node in sorted(updates):
        update = updates[node]
        if not math.isfinite(norms[node]):  # a NaN or inf anywhere makes the norm non-finite
            votes.append(Vote(voter, node, False, "non-finite values"))
        elif norms[node] > kappa * median:
            votes.append(Vote(voter, node, False, f"norm {norms[node]:.4g} > {kappa} x median {median:.4g}"))
        elif loss_after is not None and base_loss is not None:
            after = loss_after(update)
            if not math.isfinite(after) or after > base_loss * (1 + epsilon):
                votes.append(Vote(voter, node, False, f"held-out loss {after:.4f} > {base_loss:.4f} x {1 + epsilon}"))
            else:
                votes.append(Vote(voter, node, True, f"held-out loss {after:.4f}"))
        else:
            votes.append(Vote(voter, node, True, "finite, norm within bound"))
    return votes
