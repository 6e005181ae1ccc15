"""The quorum rules of a round: votes, the tally, the decision. Pure Python, no torch: the web
process (the vote API, the ledger) uses the same rules as the nodes.

A proposal is accepted when at least ``min_participants`` voters voted on it and at least
``quorum`` of them approved; an operator's rejection vetoes it, and under
``require_operator_approval`` it also needs an operator's approval. The round commits when at
least ``min_participants`` proposals are accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

OPERATOR = "operator:"  # the voter of an operator's vote is operator:<username>


@dataclass(frozen=True)
class Vote:
    voter: str
    proposal: str  # the proposing node's id
    approve: bool
    reason: str = ""

    @property
    def by_operator(self) -> bool:
        return self.voter.startswith(OPERATOR)


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
    def from_json(cls, data: bytes | str) -> Decision:
        return cls.from_dict(json.loads(data))

    @classmethod
    def from_dict(cls, raw: dict) -> Decision:
        return cls(**{**raw, "accepted": tuple(raw["accepted"]), "rejected": tuple(raw["rejected"])})


def counted_votes(ledger: Iterable[Vote], exchange: Iterable[Vote]) -> list[Vote]:
    """The votes a round's decision counts: every vote cast through the ledger (an operator's, or
    a node's through the API), then each exchange vote whose voter has no vote on that proposal
    in the ledger. A node's API vote thus overrides its automatic one."""
    ledger = list(ledger)
    cast = {(v.voter, v.proposal) for v in ledger}
    return [*ledger, *(v for v in exchange if (v.voter, v.proposal) not in cast)]


def tally(
    votes: Iterable[Vote],
    *,
    round_index: int,
    proposers: Sequence[str],
    quorum: float,
    min_participants: int,
    require_operator_approval: bool = False,
    decided_by: str = "",
) -> Decision:
    """The round's decision from the votes: one vote per voter and proposal counts (the first)."""
    seen: set[tuple[str, str]] = set()
    approvals = dict.fromkeys(proposers, 0)
    rejections = dict.fromkeys(proposers, 0)
    vetoed: set[str] = set()
    approved_by_operator: set[str] = set()
    for vote in votes:
        if vote.proposal not in approvals or (vote.voter, vote.proposal) in seen:
            continue
        seen.add((vote.voter, vote.proposal))
        (approvals if vote.approve else rejections)[vote.proposal] += 1
        if vote.by_operator:
            (approved_by_operator if vote.approve else vetoed).add(vote.proposal)
    accepted = []
    for node in sorted(proposers):
        cast = approvals[node] + rejections[node]
        by_quorum = cast >= min_participants and approvals[node] >= quorum * cast
        by_operator = node not in vetoed and (node in approved_by_operator or not require_operator_approval)
        if by_quorum and by_operator:
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
