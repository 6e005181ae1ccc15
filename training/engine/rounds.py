"""One round of the protocol, as seen by one node.

1. propose: publish this node's update (with the hash of the global weights it started from)
2. collect the members' proposals until all arrive or the deadline passes (late ones are out)
3. validate them and publish this node's votes; collect the votes of the nodes that proposed
4. tally, and offer the decision write-once: the first decision written is THE decision of the
   round for every node, so the swarm never forks
5. aggregate the accepted updates (in node order, so every node computes the same bits)

A node that sees fewer than a majority of its members stops deciding (NETWORK_PARTITION): it
only adopts a decision that a majority wrote, or fails the round and keeps the global model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

from training.engine.aggregation import aggregate
from training.engine.config import Policy
from training.engine.errors import AggregatorBoundError, EngineError, ModelDivergence
from training.engine.exchange import CorruptUpdate, Exchange, decode_update, encode_update, on_the_wire
from training.engine.voting import Decision, Vote, accept_all, tally

Judge = Callable[[dict[str, torch.Tensor]], list[Vote]]


@dataclass
class RoundOutcome:
    index: int
    decision: Decision | None
    aggregate: torch.Tensor | None
    proposers: tuple[str, ...]  # whose proposals this node saw in time
    votes: list[Vote] = field(default_factory=list)  # every vote this node saw
    partition: bool = False
    seconds: float = 0.0

    @property
    def committed(self) -> bool:
        return self.decision is not None and self.decision.committed and self.aggregate is not None


@dataclass(frozen=True)
class RoundContext:
    exchange: Exchange
    session: str
    node_id: str
    members: tuple[str, ...]
    policy: Policy
    wire_dtype: str = "float32"
    # Checked while waiting: a stop request ends the round at once, uncommitted.
    should_stop: Callable[[], bool] = lambda: False

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
    blob = encode_update(update, {**meta, "base_hash": base_hash}, wire_dtype=ctx.wire_dtype)
    exchange.put(ctx.key(index, "proposal", ctx.node_id), blob)
    # Our own update as the others will decode it (compression included), without fetching it back.
    updates: dict[str, torch.Tensor] = {ctx.node_id: on_the_wire(update, ctx.wire_dtype)}
    others = [m for m in ctx.members if m != ctx.node_id]
    corrupt: list[str] = []
    keys = {ctx.key(index, "proposal", m): m for m in others}
    for key, blob in exchange.arrivals(list(keys), until=started + policy.deadline_s, cancelled=ctx.should_stop):
        node = keys[key]
        try:
            vector, their_meta = decode_update(blob)
        except CorruptUpdate:
            corrupt.append(node)
            continue
        if their_meta.get("base_hash") != base_hash:
            raise ModelDivergence(
                f"round {index}: {node} started from {their_meta.get('base_hash')}, {ctx.node_id} from {base_hash}"
            )
        updates[node] = vector
    if ctx.should_stop():
        return _stopped(ctx, index, updates, started)
    proposers = tuple(sorted([*updates, *corrupt]))
    majority = len(ctx.members) // 2 + 1
    decision_key = ctx.key(index, "decision")
    if len(proposers) < majority:
        # Partitioned: adopt only a decision that a majority wrote.
        written = exchange.wait([decision_key], until=time.monotonic() + policy.deadline_s, cancelled=ctx.should_stop)
        if decision_key not in written:
            if ctx.should_stop():
                return _stopped(ctx, index, updates, started)
            return RoundOutcome(index, None, None, proposers, partition=True, seconds=time.monotonic() - started)
        decision = Decision.from_json(written[decision_key])
        return _finish(ctx, index, decision, updates, [], proposers, started)

    needed = policy.required(len(ctx.members))
    if policy.voting:
        mine = judge(updates) + [Vote(ctx.node_id, node, False, "corrupt bytes") for node in corrupt]
        exchange.put(ctx.key(index, "votes", ctx.node_id), json.dumps([asdict(v) for v in mine]).encode())
        vote_keys = [ctx.key(index, "votes", m) for m in proposers]
        raw_votes = exchange.wait(vote_keys, until=time.monotonic() + policy.deadline_s, cancelled=ctx.should_stop)
        if ctx.should_stop():
            return _stopped(ctx, index, updates, started)
        votes = [Vote(**v) for blob in raw_votes.values() for v in json.loads(blob)]
        candidate = tally(
            votes,
            round_index=index,
            proposers=proposers,
            quorum=policy.quorum,
            min_participants=needed,
            decided_by=ctx.node_id,
        )
    else:
        votes = []
        candidate = accept_all(round_index=index, proposers=proposers, min_participants=needed, decided_by=ctx.node_id)
    decision = Decision.from_json(exchange.put_if_absent(decision_key, candidate.to_json()))
    return _finish(ctx, index, decision, updates, votes, proposers, started)


STOP_GRACE_S = 2.0


def _stopped(ctx: RoundContext, index: int, updates: dict[str, torch.Tensor], started: float) -> RoundOutcome:
    """Stopped mid-round: a peer that had every vote may have decided a moment ago. Adopt that
    decision if it shows up within a short grace, so that all nodes stop on the same model."""
    decision_key = ctx.key(index, "decision")
    written = ctx.exchange.wait([decision_key], until=time.monotonic() + STOP_GRACE_S)
    if decision_key not in written:
        return RoundOutcome(index, None, None, tuple(sorted(updates)), seconds=time.monotonic() - started)
    decision = Decision.from_json(written[decision_key])
    return _finish(ctx, index, decision, updates, [], tuple(sorted(updates)), started)


def _finish(
    ctx: RoundContext,
    index: int,
    decision: Decision,
    updates: dict[str, torch.Tensor],
    votes: list[Vote],
    proposers: tuple[str, ...],
    started: float,
) -> RoundOutcome:
    aggregated = None
    if decision.committed:
        missing = [m for m in decision.accepted if m not in updates]
        if missing:  # accepted by the majority, arrived here late: they are in the exchange by now
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
            decision = Decision(
                index, (), tuple(sorted(updates)), decision.approvals, decision.rejections, False,
                f"CONSENSUS_FAILED: {exc}", decision.decided_by,
            )  # fmt: skip
    return RoundOutcome(index, decision, aggregated, proposers, votes, seconds=time.monotonic() - started)
