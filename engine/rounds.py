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
exactly when it came before the decision, and a vote cast through it outweighs the same voter's
exchange vote; the votes counted are recorded with the decision, so the ledger holds exactly
what was counted. The ledger's decision is then mirrored into the exchange, where the nodes
that wait for a decision find it.

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
from typing import TYPE_CHECKING, Any, Protocol

import torch

from engine.aggregation import aggregate
from engine.config import Policy
from engine.errors import AggregatorBoundError, EngineError, ModelDivergence
from engine.exchange import Exchange
from engine.quorum import Decision, Vote, accept_all, failed, tally

if TYPE_CHECKING:  # cryptography is needed only by nodes that sign (engine.identity)
    from engine.identity import Identity

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
    # This node's update as its peers decoded it (the wire format's rounding included), if the
    # round merged it.
    merged_own: torch.Tensor | None = None

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
        """The round's votes in the ledger: cast through it so far (operators', and nodes' through
        the API), and once decided, every vote the decision counted."""

    def decide(
        self, index: int, votes: list[Vote], decide: Callable[[list[Vote]], Decision], *, base_hash: str
    ) -> Decision:
        """The recorded decision, else ``decide(counted)`` recorded atomically with the votes it
        counted (``counted_votes``): the ledger's, then ``votes`` (this node's view of the
        exchange) where the ledger has none of that voter on that proposal."""


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
    # With an identity, votes are signed, and a peer's count only under its valid signature.
    identity: Identity | None = None

    def key(self, index: int, *parts: str) -> str:
        return self.prefix(index) + ":".join(parts)

    def prefix(self, index: int) -> str:
        """What every key of round ``index`` starts with."""
        return f"{self.session}:r{index}:"

    def lent(self, index: int) -> bool:
        """Whether what this node proposed in round ``index`` may still be read by its peers."""
        return self.exchange.holds(self.prefix(index))


@dataclass
class Round:
    """One round as one node sees it, with this node's ``update`` (flat float32, on the node's
    device): ``run`` goes through the phases of the module doc, each a method: propose,
    collect, vote, decide (every way out of the round), merge. The mean of the accepted
    updates is written ``into`` a buffer of the caller's, if given."""

    ctx: RoundContext
    index: int
    update: torch.Tensor
    base_hash: str
    meta: dict[str, float | int | str]
    judge: Judge
    into: torch.Tensor | None = None
    started: float = field(default_factory=time.monotonic, init=False)
    updates: dict[str, torch.Tensor] = field(default_factory=dict, init=False)  # decoded, this node's included
    metas: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    refused: dict[str, str] = field(default_factory=dict, init=False)  # unreadable, or from another base
    fetched: dict[str, tuple[int, float]] = field(default_factory=dict, init=False)
    unauthenticated: dict[str, str] = field(default_factory=dict, init=False)  # voters whose votes were dropped

    def __post_init__(self) -> None:
        self.sent, self.received = self.ctx.exchange.bytes_sent, self.ctx.exchange.bytes_received
        self.metas[self.ctx.node_id] = dict(self.meta)

    @property
    def proposers(self) -> tuple[str, ...]:
        return tuple(sorted([*self.updates, *self.refused]))

    def run(self) -> RoundOutcome:
        ctx, policy = self.ctx, self.ctx.policy
        self.propose()
        self.collect()
        if ctx.should_stop():
            return self.give_up("stopped before the decision")
        if len(self.proposers) < Policy.majority(len(ctx.members)):
            return self.adopt_majority()
        needed = policy.required(len(ctx.members))
        if not policy.voting:
            return self.decide(
                lambda _: accept_all(
                    round_index=self.index,
                    proposers=sorted(self.updates),
                    min_participants=needed,
                    decided_by=ctx.node_id,
                ),
                [],
            )
        votes = self.vote()
        if ctx.should_stop():
            return self.give_up("stopped before the decision")
        return self.decide(
            lambda counted: tally(
                counted,
                round_index=self.index,
                proposers=self.proposers,
                quorum=policy.quorum,
                min_participants=needed,
                require_operator_approval=policy.require_operator_approval,
                decided_by=ctx.node_id,
            ),
            votes,
        )

    def propose(self) -> None:
        """Publish this node's update with the hash of the global weights it started from; keep
        it as the others will decode it (wire compression included), without fetching it back."""
        ctx = self.ctx
        key = ctx.key(self.index, "proposal", ctx.node_id)
        meta = {**self.meta, "base_hash": self.base_hash}
        self.updates[ctx.node_id] = ctx.exchange.propose(key, self.update, meta, wire=ctx.wire_dtype)

    def collect(self) -> None:
        """The members' proposals until all arrive or the deadline passes (late ones are out);
        one from another base model is refused (its sender has diverged)."""
        ctx = self.ctx
        others = {ctx.key(self.index, "proposal", m): m for m in ctx.members if m != ctx.node_id}
        arrivals = ctx.exchange.proposals(
            list(others),
            device=self.update.device,
            until=self.started + ctx.policy.deadline_s,
            cancelled=ctx.should_stop,
        )
        for arrival in arrivals:
            node = others[arrival.key]
            self.fetched[node] = (arrival.nbytes, arrival.seconds)
            if arrival.vector is None:
                self.refused[node] = arrival.error
            elif arrival.meta.get("base_hash") != self.base_hash:
                self.refused[node] = f"started from {arrival.meta.get('base_hash')}, not {self.base_hash}"
            else:
                self.updates[node], self.metas[node] = arrival.vector, arrival.meta

    def vote(self) -> list[Vote]:
        """Open the round in the ledger, judge the proposals, publish this node's votes and
        collect those of the nodes that proposed (and, if required, wait for an operator's)."""
        ctx, exchange = self.ctx, self.ctx.exchange
        if ctx.ledger is not None:
            proposals = {
                node: {**self.metas.get(node, {}), "norm": float(u.norm())} for node, u in self.updates.items()
            }
            ctx.ledger.opened(
                self.index, proposals, base_hash=self.base_hash, deadline=time.time() + ctx.policy.deadline_s
            )
        mine = self.judge(self.updates) + [Vote(ctx.node_id, n, False, why) for n, why in self.refused.items()]
        key = ctx.key(self.index, "votes", ctx.node_id)
        payload = json.dumps([asdict(v) for v in mine])
        signature = ctx.identity.sign(f"{key}\n{payload}".encode()).hex() if ctx.identity is not None else ""
        exchange.put(key, json.dumps({"votes": payload, "signature": signature}).encode())
        until = time.monotonic() + ctx.policy.deadline_s
        voters = {ctx.key(self.index, "votes", m): m for m in self.proposers}
        raw_votes = exchange.wait(list(voters), until=until, cancelled=ctx.should_stop)
        if ctx.policy.require_operator_approval and ctx.ledger is not None:
            self._await_operators(until)
        return [vote for key, blob in raw_votes.items() for vote in self._votes_of(voters[key], key, blob)]

    def _votes_of(self, voter: str, key: str, blob: bytes) -> list[Vote]:
        """``voter``'s votes as published under ``key``: none when unreadable, unsigned or not
        signed by ``voter`` (with an identity), and only those cast in its own name."""
        try:
            envelope = json.loads(blob)
            payload, signature = str(envelope["votes"]), bytes.fromhex(str(envelope["signature"]))
            cast = [Vote(**v) for v in json.loads(payload)]
        except (ValueError, TypeError, KeyError):
            self.unauthenticated[voter] = "unreadable votes"
            return []
        identity = self.ctx.identity
        if identity is not None and not identity.verify(voter, f"{key}\n{payload}".encode(), signature):
            self.unauthenticated[voter] = "votes not signed with its registered key"
            return []
        return [v for v in cast if v.voter == voter]

    def adopt_majority(self) -> RoundOutcome:
        """A minority never decides a merge: wait for the majority's decision, else record the partition."""
        ctx = self.ctx
        written = ctx.exchange.wait(
            [ctx.key(self.index, "decision")],
            until=time.monotonic() + ctx.policy.deadline_s,
            cancelled=ctx.should_stop,
        )
        if written:
            majority = Decision.from_json(next(iter(written.values())))
            return self.decide(lambda _: majority, [])
        return self.give_up(f"{PARTITION}: {len(self.proposers)} of {len(ctx.members)} members seen")

    def give_up(self, reason: str) -> RoundOutcome:
        return self.decide(
            lambda _: failed(
                round_index=self.index, proposers=self.proposers, reason=reason, decided_by=self.ctx.node_id
            ),
            [],
        )

    def decide(self, decide: Callable[[list[Vote]], Decision], votes: list[Vote]) -> RoundOutcome:
        """Offer this node's decision write-once (through the ledger, if any): the first one
        written is the round's, and this node merges by it."""
        ctx = self.ctx

        def stamped(counted: list[Vote]) -> Decision:
            candidate = decide(counted)
            return candidate if candidate.base_hash else replace(candidate, base_hash=self.base_hash)

        if ctx.ledger is not None:
            decided = ctx.ledger.decide(self.index, votes, stamped, base_hash=self.base_hash).to_json()
            votes = ctx.ledger.outside_votes(self.index)  # the votes the decision counted, as recorded
        else:
            decided = stamped(votes).to_json()
        stored = ctx.exchange.put_if_absent(ctx.key(self.index, "decision"), decided)
        try:
            outcome = self.merge(Decision.from_json(stored), votes)
        finally:
            ctx.exchange.done(ctx.prefix(self.index), ctx.node_id, ctx.members)
        if outcome.committed and ctx.node_id in outcome.decision.accepted:
            outcome.merged_own = self.updates[ctx.node_id]
        outcome.sent = ctx.exchange.bytes_sent - self.sent
        outcome.received = ctx.exchange.bytes_received - self.received
        outcome.fetched = self.fetched
        return outcome

    def merge(self, decision: Decision, votes: list[Vote]) -> RoundOutcome:
        """Aggregate the accepted updates (in node order, so every node computes the same bits).
        A node whose base differs from the decision's has diverged and says so instead."""
        ctx = self.ctx
        if decision.base_hash and decision.base_hash != self.base_hash:
            raise ModelDivergence(
                f"round {self.index}: {ctx.node_id} holds {self.base_hash}, the swarm decided from {decision.base_hash}"
            )
        aggregated = None
        if decision.committed:
            self._fetch_late(decision.accepted)
            try:
                aggregated = aggregate(
                    [self.updates[m] for m in decision.accepted], ctx.policy.aggregator, out=self.into
                )
            except AggregatorBoundError as exc:
                # Every node holds the same updates and reaches the same refusal: still one outcome.
                decision = replace(decision, accepted=(), committed=False, reason=f"CONSENSUS_FAILED: {exc}")
        seconds = time.monotonic() - self.started
        return RoundOutcome(self.index, decision, aggregated, self.proposers, votes, seconds=seconds)

    def _fetch_late(self, accepted: tuple[str, ...]) -> None:
        """Proposals accepted by the others that arrived here late: in the exchange by now."""
        ctx = self.ctx
        missing = {ctx.key(self.index, "proposal", m): m for m in accepted if m not in self.updates}
        if not missing:
            return
        until = time.monotonic() + ctx.policy.deadline_s
        for arrival in ctx.exchange.proposals(list(missing), device=self.update.device, until=until):
            if arrival.vector is not None:
                self.updates[missing[arrival.key]] = arrival.vector
        gone = [node for node in missing.values() if node not in self.updates]
        if gone:
            raise EngineError(f"round {self.index}: accepted proposal of {gone[0]} is gone from the exchange")

    def _await_operators(self, until: float, every_s: float = 0.2) -> None:
        """Until an operator has voted on every proposal, the deadline, or a stop."""
        ctx = self.ctx
        assert ctx.ledger is not None
        proposers = set(self.proposers)
        while time.monotonic() < until and not ctx.should_stop():
            voted = {v.proposal for v in ctx.ledger.outside_votes(self.index) if v.by_operator}
            if proposers <= voted:
                return
            time.sleep(every_s)
