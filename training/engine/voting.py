"""Validation of peers' proposals and the quorum tally: pure functions, no I/O.

A node approves a proposal when it is finite, its norm is at most ``kappa`` times the median
norm of the round's proposals, and (when a held-out loss probe is given) applying it does not
raise the node's held-out loss by more than ``epsilon`` (relative). A proposal is accepted when
at least ``min_participants`` voters voted on it and at least ``quorum`` of them approved; the
round commits when at least ``min_participants`` proposals are accepted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class Vote:
    voter: str
    proposal: str  # the proposing node's id
    approve: bool
    reason: str = ""


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


@dataclass(frozen=True)
class Decision:
    round_index: int
    accepted: tuple[str, ...]
    rejected: tuple[str, ...]
    approvals: dict[str, int]
    rejections: dict[str, int]
    committed: bool
    reason: str
    decided_by: str = ""
    base_hash: str = ""  # the global model the round started from, in the decider's view

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Decision:
        raw = json.loads(data)
        return cls(**{**raw, "accepted": tuple(raw["accepted"]), "rejected": tuple(raw["rejected"])})


def tally(
    votes: Iterable[Vote],
    *,
    round_index: int,
    proposers: Sequence[str],
    quorum: float,
    min_participants: int,
    decided_by: str = "",
) -> Decision:
    """The round's decision from the votes: one vote per voter and proposal counts (the first)."""
    seen: set[tuple[str, str]] = set()
    approvals = dict.fromkeys(proposers, 0)
    rejections = dict.fromkeys(proposers, 0)
    for vote in votes:
        if vote.proposal not in approvals or (vote.voter, vote.proposal) in seen:
            continue
        seen.add((vote.voter, vote.proposal))
        (approvals if vote.approve else rejections)[vote.proposal] += 1
    accepted = []
    for node in sorted(proposers):
        cast = approvals[node] + rejections[node]
        if cast >= min_participants and approvals[node] >= quorum * cast:
            accepted.append(node)
    rejected = tuple(sorted(set(proposers) - set(accepted)))
    committed = len(accepted) >= min_participants
    reason = (
        f"{len(accepted)} of {len(proposers)} proposals accepted"
        if committed
        else f"CONSENSUS_FAILED: {len(accepted)} proposals accepted, {min_participants} needed"
    )
    return Decision(round_index, tuple(accepted), rejected, approvals, rejections, committed, reason, decided_by)


def failed(*, round_index: int, proposers: Sequence[str], reason: str, decided_by: str) -> Decision:
    """A round that ends without a merge (partition, stop): the global model is kept."""
    zeros = dict.fromkeys(proposers, 0)
    return Decision(round_index, (), tuple(sorted(proposers)), zeros, dict(zeros), False, reason, decided_by)


def accept_all(*, round_index: int, proposers: Sequence[str], min_participants: int, decided_by: str) -> Decision:
    """No voting: every proposal that arrived is accepted (the unprotected control)."""
    committed = len(proposers) >= min_participants
    reason = "accepted without voting" if committed else f"CONSENSUS_FAILED: {len(proposers)} proposals"
    zeros = dict.fromkeys(proposers, 0)
    return Decision(round_index, tuple(sorted(proposers)), (), zeros, dict(zeros), committed, reason, decided_by)
