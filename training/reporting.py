"""How a run reports, beside training: its progress, rounds and snapshots to the database
(``DatabaseReporter``), its rounds' ledger (``DatabaseLedger``), the trackers asked for
(``run_reporter``), and its own liveness (``run_pulse``)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import torch
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from consensus.services import ledger_record, round_decide, round_open, round_votes
from engine.checkpoint import save_checkpoint
from engine.node import Reporter
from engine.quorum import Decision, Vote
from engine.rounds import RoundOutcome
from engine.tokenizer import Tokenizer
from engine.tracking import Reporters, TensorBoardReporter, WandbReporter
from models_store.services import snapshot_path
from ncrsh_site.api import finite
from ncrsh_site.events import publish
from nodes.models import Node
from nodes.services import network_record
from training.models import NodeRun, RunStatus, TrainingSession
from training.selectors import session_members_at, session_status

logger = logging.getLogger(__name__)


class DatabaseReporter:
    """Progress to the NodeRun row and the node's training_speed; after each committed round the
    swarm's global state to this node's snapshot file, from which a (re)joining node resumes."""

    def __init__(self, run: NodeRun, session: TrainingSession, tokenizer: Tokenizer) -> None:
        self.run, self.session, self.plan, self.tokenizer = run, session, session.plan, tokenizer
        self.step = 0
        # Only the incarnation holding the run's claim writes to it.
        self.rows = NodeRun.objects.filter(id=run.id, claimed_by=run.claimed_by)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.step = step
        # The node's training_speed: its tokens/s relative to the session's fastest node, 0-1.
        others = NodeRun.objects.filter(session_id=self.session.id, tokens_per_s__isnull=False).exclude(id=self.run.id)
        fastest = max([metrics["tokens_per_s"], *(t for t in others.values_list("tokens_per_s", flat=True) if t)])
        Node.objects.filter(id=self.run.node_id).update(training_speed=metrics["tokens_per_s"] / max(fastest, 1e-9))
        self.rows.update(
            step=step,
            epoch=int(metrics["epoch"]),
            batch_progress=metrics["batch_progress"],
            loss=finite(metrics["loss"]),
            bits_per_byte=finite(metrics["bits_per_byte"]),
            accuracy=finite(metrics["accuracy"]),
            tokens_per_s=metrics["tokens_per_s"],
            mfu=metrics.get("mfu"),
            round=int(metrics["round"]),
        )
        self.session.refresh_from_db(fields=["status"])
        publish("training_progress", {**session_status(self.session), "node_id": self.run.node_id})

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        self.rows.update(round=outcome.index + 1, model_hash=model_hash)
        Node.objects.filter(id=self.run.node_id).update(model_hash=model_hash)
        network_record(
            node_id=self.run.node_id,
            session_id=self.session.id,
            sent=outcome.sent,
            received=outcome.received,
            fetched=outcome.fetched,
            round_seconds=outcome.seconds,
            partition=outcome.partition,
        )
        ledger_record(
            session_id=self.session.id,
            index=outcome.index,
            members=session_members_at(session_id=self.session.id, index=outcome.index),
            base_hash=outcome.decision.base_hash,
            proposers=list(outcome.proposers),
            votes=[dataclasses.asdict(v) for v in outcome.votes],
            decision={
                **dataclasses.asdict(outcome.decision),
                "aggregator": dataclasses.asdict(self.plan.policy.aggregator),
            },
            model_hash=model_hash,
            node_id=self.run.node_id,
        )
        if outcome.committed:
            self.step = step
            path = snapshot_path(self.session.id, self.run.node_id)
            save_checkpoint(path, state(), self.metadata(outcome.index + 1, model_hash))

    def metadata(self, round_index: int, model_hash: str) -> dict[str, Any]:
        return {
            "session": self.session.id,
            "round": round_index,
            "model_hash": model_hash,
            "step": self.step,
            "model_config": self.plan.model.to_dict(),
            "strategy": dataclasses.asdict(self.plan.strategy),
            "aggregator": dataclasses.asdict(self.plan.policy.aggregator),
            "members": session_members_at(session_id=self.session.id, index=round_index),
            # The tokenizer itself travels with the weights: a checkpoint is usable on its own.
            "dataset": self.plan.dataset,
            "tokenizer": {
                "spec": self.tokenizer.spec,
                "vocab_size": self.tokenizer.vocab_size,
                "sha256": self.tokenizer.sha256,
                "json": self.tokenizer.json,
            },
        }


class DatabaseLedger:
    """The engine's Ledger on the consensus app: rounds open in the database, operators vote
    there, and the database records each round's one decision."""

    def __init__(self, session: TrainingSession) -> None:
        self.session = session
        self.aggregator = dataclasses.asdict(session.plan.policy.aggregator)

    def opened(
        self, index: int, proposals: Mapping[str, Mapping[str, Any]], *, base_hash: str, deadline: float
    ) -> None:
        round_open(
            session_id=self.session.id,
            index=index,
            members=session_members_at(session_id=self.session.id, index=index),
            base_hash=base_hash,
            deadline=datetime.fromtimestamp(deadline, UTC),
            proposals={node: dict(meta) for node, meta in proposals.items()},
        )

    def outside_votes(self, index: int) -> list[Vote]:
        return [Vote(**vote) for vote in round_votes(session_id=self.session.id, index=index)]

    def decide(
        self, index: int, votes: list[Vote], decide: Callable[[list[Vote]], Decision], *, base_hash: str
    ) -> Decision:
        def engine_decide(counted: list[dict[str, Any]]) -> dict[str, Any]:
            return dataclasses.asdict(decide([Vote(**vote) for vote in counted]))

        decided = round_decide(
            session_id=self.session.id,
            index=index,
            members=session_members_at(session_id=self.session.id, index=index),
            base_hash=base_hash,
            aggregator=self.aggregator,
            votes=[dataclasses.asdict(vote) for vote in votes],
            decide=engine_decide,
        )
        return Decision.from_dict(decided)


@contextlib.contextmanager
def run_reporter(run: NodeRun, session: TrainingSession, tokenizer: Tokenizer) -> Iterator[Reporter]:
    """The control plane's reporter, and beside it TensorBoard's (NCRSH_TENSORBOARD) and a
    Weights & Biases run (NCRSH_WANDB_PROJECT) when asked for."""
    folder = settings.RUNS_DIR / session.id / run.node_id
    trackers: list[TensorBoardReporter | WandbReporter] = []
    try:
        if settings.TENSORBOARD:
            trackers.append(TensorBoardReporter(folder))
        if settings.WANDB_PROJECT:
            trackers.append(
                WandbReporter(
                    project=settings.WANDB_PROJECT,
                    session=session.id,
                    node=run.node_id,
                    directory=folder,
                    config=session.plan.to_json(),
                )
            )
        yield Reporters(DatabaseReporter(run, session, tokenizer), *trackers)
    finally:
        for tracker in trackers:
            tracker.close()


@contextlib.contextmanager
def run_pulse(run_id: int, claim: str) -> Iterator[None]:
    """The run's own liveness, beside its node's: while its process trains it, the run's row is
    touched every heartbeat. A run silent for NCRSH_OFFLINE_AFTER_S while its node still beats
    has lost its process (a killed child, a wedged thread) and the sweep retires it."""
    stopped = threading.Event()

    def beat() -> None:
        while not stopped.wait(settings.HEARTBEAT_S):
            try:
                NodeRun.objects.filter(id=run_id, claimed_by=claim, status=RunStatus.TRAINING).update(
                    updated_at=timezone.now()
                )
            except Exception:  # a missed beat is retried at the next one
                logger.warning("run pulse failed", exc_info=True)
            finally:
                close_old_connections()

    thread = threading.Thread(target=beat, name=f"run-pulse-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()
