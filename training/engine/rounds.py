"""One round of the protocol, as seen by one node.

1. propose: publish this node's update, with the hash of the global weights it started from
2. collect the members' proposals until all arrive or the deadline passes (late ones are out);
   a proposal from another base model is refused (its sender has diverged)
3. validate them and publish this node's votes; collect the votes of the nodes that proposed
4. tally, and offer the decision write-once: the first decision written is THE decision of the
   round for every node, whatever each one saw, so the swarm never forks
5. aggregate the accepted updates (in node order, so every node computes the same bits)

With a ``Ledger`` (the Django side's database), the round is also opened there once the
proposals are in (operators and nodes may then vote through the API, and under
``require_operator_approval`` the round waits for them), and the ledger decides: it records the
first decision, re-tallied under its lock with the votes cast through it, so a vote is counted
exactly when it came before the decision. The ledger's decision is then mirrored into the
exchange, where the nodes that wait for a decision find it.

Every way out of a round goes through that one decision. A node that sees fewer than a
majority of its members (NETWORK_PARTITION) or is asked to stop offers a failed decision; if a
majority decided first, it adopts theirs. A node whose base differs from the decision's has
diverged, and says so (ModelDivergence) instead of merging.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import torch

from training.engine.aggregation import aggregate
from training.engine.config import Policy
from training.engine.errors import AggregatorBoundError, EngineError, ModelDivergence
from training.engine.exchange import CorruptUpdate, Exchange, decode_update, encode_update, on_the_wire
from training.engine.quorum import Decision, Vote, accept_all, failed, tally

Judge = Callable[[dict[str, torch.Tensor]], list[Vote]]
PARTITION = "NETWORK_PARTITION"


@dataclass
class RoundOutcome:
    index: int
    decision: Decision
    aggregate: torch.Tensor | None
    proposers: tuple[str, ...]  # whose proposals this node saw in time
    votes: list[Vote] = field(default_factory=list)  # every vote this node saw
    seconds: float = 0.0
    # This node's traffic in the round: bytes through the exchange, and per peer whose proposal
    # it fetched, (bytes, seconds the fetch took).
    sent: int = 0
    received: int = 0
    fetched: dict[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def committed(self) -> bool:
        return self.decision.committed and self.aggregate is not None

    @property
    def partition(self) -> bool:
        return self.decision.reason.startswith(PARTITION)


class Ledger(Protocol):
    """Where rounds are recorded, voted in and decided besides the exchange (see the module doc)."""

    def opened(
        self, index: int, proposals: Mapping[str, Mapping[str, Any]], *, base_hash: str, deadline: float
    ) -> None:
        """The proposals this node holds (per node: norm, samples, loss); ``deadline``: the Unix
        time the round stops waiting."""

    def outside_votes(self, index: int) -> list[Vote]:
        """Votes cast through the ledger so far (operators', and nodes' through the API)."""

    def decide(self, index: int, decide: Callable[[list[Vote]], Decision], *, base_hash: str) -> Decision:
        """The recorded decision, else ``decide(outside votes)`` recorded atomically."""


@dataclass(frozen=True)
class RoundContext:
    exchange: Exchange
    session: str
    node_id: str
    members: tuple[str, ...]
    policy: Policy
    wire_dtype: str = "float32"
    # Checked while waiting: a stop request ends the round at once (through the decision).
    should_stop: Callable[[], bool] = lambda: False
    ledger: Ledger | None = None

    def key(self, index: int, *parts: str) -> str:
        return ":".join((self.session, f"r{index}", *parts))


def run_round(
    ctx: RoundContext,
    index: int,
    update: torch.Tensor,
    *,
    base_hash: str,
    meta: dict[str, float | int | str],
    judge: Judge,
) -> RoundOutcome:
    started = time.monotonic()
    exchange, policy = ctx.exchange, ctx.policy
    sent, received = exchange.bytes_sent, exchange.bytes_received
    fetched: dict[str, tuple[int, float]] = {}
    exchange.put(
        ctx.key(index, "proposal", ctx.node_id),
        encode_update(update, {**meta, "base_hash": base_hash}, wire_dtype=ctx.wire_dtype),
    )
    # Our own update as the others will decode it (compression included), without fetching it back.
    updates: dict[str, torch.Tensor] = {ctx.node_id: on_the_wire(update, ctx.wire_dtype)}
    refused: dict[str, str] = {}
    others = {ctx.key(index, "proposal", m): m for m in ctx.members if m != ctx.node_id}
    metas: dict[str, dict[str, Any]] = {ctx.node_id: dict(meta)}
    for key, blob in exchange.arrivals(list(others), until=started + policy.deadline_s, cancelled=ctx.should_stop):
        fetched[others[key]] = (len(blob), exchange.last_fetch_s)
        try:
            vector, their_meta = decode_update(blob)
        except CorruptUpdate as exc:
            refused[others[key]] = f"corrupt: {exc}"
            continue
        if their_meta.get("base_hash") != base_hash:
            refused[others[key]] = f"started from {their_meta.get('base_hash')}, not {base_hash}"
            continue
        updates[others[key]] = vector
        metas[others[key]] = their_meta
    proposers = tuple(sorted([*updates, *refused]))

    def settle(decide: Callable[[list[Vote]], Decision], votes: list[Vote]) -> RoundOutcome:
        def stamped(outside: list[Vote]) -> Decision:
            candidate = decide(outside)
            return candidate if candidate.base_hash else replace(candidate, base_hash=base_hash)

        if ctx.ledger is not None:
            decided = ctx.ledger.decide(index, stamped, base_hash=base_hash).to_json()
            votes = [*votes, *(v for v in ctx.ledger.outside_votes(index) if v not in votes)]
        else:
            decided = stamped([]).to_json()
        stored = exchange.put_if_absent(ctx.key(index, "decision"), decided)
        outcome = _finish(ctx, index, Decision.from_json(stored), base_hash, updates, votes, proposers, started)
        outcome.sent, outcome.received = exchange.bytes_sent - sent, exchange.bytes_received - received
        outcome.fetched = fetched
        return outcome

    def give_up(reason: str) -> RoundOutcome:
        return settle(
            lambda _: failed(round_index=index, proposers=proposers, reason=reason, decided_by=ctx.node_id), []
        )

    if ctx.should_stop():
        return give_up("stopped before the decision")
    if len(proposers) < len(ctx.members) // 2 + 1:
        # A minority never decides a merge: wait for the majority's decision, else record the partition.
        written = exchange.wait(
            [ctx.key(index, "decision")], until=time.monotonic() + policy.deadline_s, cancelled=ctx.should_stop
        )
        if written:
            majority = Decision.from_json(next(iter(written.values())))
            return settle(lambda _: majority, [])
        return give_up(f"{PARTITION}: {len(proposers)} of {len(ctx.members)} members seen")

    needed = policy.required(len(ctx.members))
    if not policy.voting:
        return settle(
            lambda _: accept_all(
                round_index=index, proposers=sorted(updates), min_participants=needed, decided_by=ctx.node_id
            ),
            [],
        )
    if ctx.ledger is not None:
        proposals = {node: {**metas.get(node, {}), "norm": float(u.norm())} for node, u in updates.items()}
        ctx.ledger.opened(index, proposals, base_hash=base_hash, deadline=time.time() + policy.deadline_s)
    mine = judge(updates) + [Vote(ctx.node_id, node, False, reason) for node, reason in refused.items()]
    exchange.put(ctx.key(index, "votes", ctx.node_id), json.dumps([asdict(v) for v in mine]).encode())
    until = time.monotonic() + policy.deadline_s
    raw_votes = exchange.wait([ctx.key(index, "votes", m) for m in proposers], until=until, cancelled=ctx.should_stop)
    if policy.require_operator_approval and ctx.ledger is not None:
        _await_operators(ctx, index, set(proposers), until)
    if ctx.should_stop():
        return give_up("stopped before the decision")
    votes = [Vote(**v) for blob in raw_votes.values() for v in json.loads(blob)]
    return settle(
        lambda outside: tally(
            [*votes, *outside],
            round_index=index,
            proposers=proposers,
            quorum=policy.quorum,
            min_participants=needed,
            require_operator_approval=policy.require_operator_approval,
            decided_by=ctx.node_id,
        ),
        votes,
    )


def _await_operators(ctx: RoundContext, index: int, proposers: set[str], until: float, every_s: float = 0.2) -> None:
    """Until an operator has voted on every proposal, the deadline, or a stop."""
    assert ctx.ledger is not None
    while time.monotonic() < until and not ctx.should_stop():
        voted = {v.proposal for v in ctx.ledger.outside_votes(index) if v.by_operator}
        if proposers <= voted:
            return
        time.sleep(every_s)


def _finish(
    ctx: RoundContext,
    index: int,
    decision: Decision,
    base_hash: str,
    updates: dict[str, torch.Tensor],
    votes: list[Vote],
    proposers: tuple[str, ...],
    started: float,
) -> RoundOutcome:
    if decision.base_hash and decision.base_hash != base_hash:
        raise ModelDivergence(
            f"round {index}: {ctx.node_id} holds {base_hash}, the swarm decided from {decision.base_hash}"
        )
    aggregated = None
    if decision.committed:
        missing = [m for m in decision.accepted if m not in updates]
        if missing:  # accepted by the others, arrived here late: they are in the exchange by now
            late = ctx.exchange.wait(
                [ctx.key(index, "proposal", m) for m in missing], until=time.monotonic() + ctx.policy.deadline_s
            )
            for node in missing:
                if ctx.key(index, "proposal", node) not in late:
                    raise EngineError(f"round {index}: accepted proposal of {node} is gone from the exchange")
                updates[node] = decode_update(late[ctx.key(index, "proposal", node)])[0]
        try:
            aggregated = aggregate([updates[m] for m in decision.accepted], ctx.policy.aggregator)
        except AggregatorBoundError as exc:
            # Every node holds the same updates and reaches the same refusal: still one outcome.
            decision = replace(decision, accepted=(), committed=False, reason=f"CONSENSUS_FAILED: {exc}")
    return RoundOutcome(index, decision, aggregated, proposers, votes, seconds=time.monotonic() - started)
