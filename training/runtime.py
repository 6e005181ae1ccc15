"""The only place Django meets the engine: one node's run of one session, in a task body.

Imported by ``training.tasks.run_node`` when it runs, never by the web process (torch).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from django.conf import settings
from django.db import close_old_connections, transaction

from consensus.services import ledger_record, round_decide, round_open, round_votes
from models_store.services import checkpoint_register, snapshot_latest, snapshot_path
from ncrsh_site.api import finite
from ncrsh_site.events import publish
from nodes.models import Node
from nodes.services import network_record
from training.engine.checkpoint import load_checkpoint, save_checkpoint
from training.engine.config import AggregatorConfig, ModelConfig, Policy, Strategy, TrainConfig
from training.engine.data import Corpus
from training.engine.datasets import load_bytes
from training.engine.exchange import Exchange, InMemoryExchange, MemoryStore, RedisExchange
from training.engine.files import file_sha256
from training.engine.node import NodeResult, NodeSpec, Resume, train_node
from training.engine.quorum import Decision, Vote
from training.engine.rounds import RoundOutcome
from training.models import NodeRun, RunStatus, TrainingSession
from training.selectors import session_status
from training.services import run_finish, stop_requested

logger = logging.getLogger(__name__)

# Embedded mode: the nodes of a session are threads of this process and meet here.
_stores: dict[str, MemoryStore] = {}
_stores_lock = threading.Lock()


def _exchange(session_id: str) -> Exchange:
    if settings.EMBEDDED:
        with _stores_lock:
            store = _stores.setdefault(session_id, MemoryStore())
        return InMemoryExchange(store)
    return RedisExchange(settings.REDIS_URL, prefix=f"{settings.CACHE_KEY_PREFIX}:exchange", ttl_s=24 * 3600)


def node_spec(session: TrainingSession, node_id: str) -> NodeSpec:
    config = session.config
    policy = dict(config["policy"])
    aggregator = AggregatorConfig(**policy.pop("aggregator"))
    return NodeSpec(
        node_id=node_id,
        members=tuple(config["members"]),
        model=ModelConfig(**config["model_config"]),
        train=TrainConfig(**config["train"]),
        strategy=Strategy(**config["strategy"]),
        policy=Policy(aggregator=aggregator, **policy),
        session=session.id,
        fault=settings.FAULT_INJECTION.get(node_id),
        wire_dtype=config["wire_dtype"],
    )


class DatabaseReporter:
    """Progress to the NodeRun row and the node's training_speed; after each committed round the
    swarm's global state to this node's snapshot file, from which a (re)joining node resumes."""

    def __init__(self, run: NodeRun, session: TrainingSession) -> None:
        self.run, self.session = run, session
        self.step = 0

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.step = step
        # The node's training_speed: its tokens/s relative to the session's fastest node, 0-1.
        others = NodeRun.objects.filter(session_id=self.session.id, tokens_per_s__isnull=False).exclude(id=self.run.id)
        fastest = max([metrics["tokens_per_s"], *(t for t in others.values_list("tokens_per_s", flat=True) if t)])
        Node.objects.filter(id=self.run.node_id).update(training_speed=metrics["tokens_per_s"] / max(fastest, 1e-9))
        NodeRun.objects.filter(id=self.run.id).update(
            step=step,
            epoch=int(metrics["epoch"]),
            batch_progress=metrics["batch_progress"],
            loss=finite(metrics["loss"]),
            accuracy=finite(metrics["accuracy"]),
            tokens_per_s=metrics["tokens_per_s"],
            round=int(metrics["round"]),
        )
        self.session.refresh_from_db(fields=["status"])
        publish("training_progress", {**session_status(self.session), "node_id": self.run.node_id})

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        NodeRun.objects.filter(id=self.run.id).update(round=outcome.index + 1, model_hash=model_hash)
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
            members=self.session.config["members"],
            base_hash=outcome.decision.base_hash,
            proposers=list(outcome.proposers),
            votes=[dataclasses.asdict(v) for v in outcome.votes],
            decision={
                **dataclasses.asdict(outcome.decision),
                "aggregator": self.session.config["policy"]["aggregator"],
            },
            model_hash=model_hash,
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
            "model_config": self.session.config["model_config"],
            "strategy": self.session.config["strategy"],
            "aggregator": self.session.config["policy"]["aggregator"],
            "members": self.session.config["members"],
        }


class DatabaseLedger:
    """The engine's Ledger on the consensus app: rounds open in the database, operators vote
    there, and the database records each round's one decision."""

    def __init__(self, session: TrainingSession) -> None:
        self.session = session
        self.members = list(session.config["members"])
        self.aggregator = dict(session.config["policy"]["aggregator"])

    def opened(
        self, index: int, proposals: Mapping[str, Mapping[str, Any]], *, base_hash: str, deadline: float
    ) -> None:
        round_open(
            session_id=self.session.id,
            index=index,
            members=self.members,
            base_hash=base_hash,
            deadline=datetime.fromtimestamp(deadline, UTC),
            proposals={node: dict(meta) for node, meta in proposals.items()},
        )

    def outside_votes(self, index: int) -> list[Vote]:
        return [Vote(**vote) for vote in round_votes(session_id=self.session.id, index=index)]

    def decide(self, index: int, decide: Callable[[list[Vote]], Decision], *, base_hash: str) -> Decision:
        def engine_decide(votes: list[dict[str, Any]]) -> dict[str, Any]:
            return dataclasses.asdict(decide([Vote(**vote) for vote in votes]))

        decided = round_decide(
            session_id=self.session.id,
            index=index,
            members=self.members,
            base_hash=base_hash,
            aggregator=self.aggregator,
            decide=engine_decide,
        )
        return Decision.from_dict(decided)


def _resume(session: TrainingSession) -> Resume | None:
    """A node claiming its run after rounds were committed (a late start, or a restart after a
    crash) joins where the swarm is: the freshest snapshot any node wrote."""
    latest = snapshot_latest(session.id)
    if latest is None:
        return None
    path, metadata = latest
    loaded = load_checkpoint(path, sha256=file_sha256(path))
    return Resume(rounds=int(metadata["round"]), step=int(metadata["step"]), state=loaded.tensors)


def _initial_state(session: TrainingSession) -> dict[str, torch.Tensor] | None:
    checkpoint = session.initial_checkpoint
    if checkpoint is None:
        return None
    loaded = load_checkpoint(settings.CHECKPOINT_DIR / Path(checkpoint.filename).name, sha256=checkpoint.sha256)
    return loaded.tensors


def _final_checkpoint(session: TrainingSession, run: NodeRun, result: NodeResult) -> None:
    """The first node to finish registers the session's final model (all hold the same one)."""
    with transaction.atomic():
        claimed = TrainingSession.objects.filter(id=session.id, metrics__final_model__isnull=True)
        locked = claimed.select_for_update().first()
        if locked is None:
            return
        path = settings.CHECKPOINT_DIR / "sessions" / f"{session.id}.{run.node_id}.final.safetensors"
        last_round = result.rounds[-1].index + 1 if result.rounds else 0
        reporter = DatabaseReporter(run, session)
        reporter.step = result.steps
        save_checkpoint(path, result.state, reporter.metadata(last_round, result.model_hash))
        checkpoint = checkpoint_register(
            source=path,
            session_id=session.id,
            round_index=last_round,
            step=result.steps,
            model_hash=result.model_hash,
            metrics={"val_loss": finite(result.val_loss), "val_accuracy": finite(result.val_accuracy)},
            model_config=session.config["model_config"],
        )
        path.unlink(missing_ok=True)
        locked.metrics = {**locked.metrics, "final_model": checkpoint.id}
        locked.save(update_fields=["metrics"])


def execute_run(session_id: str, node_id: str) -> None:
    """Claim this node's run (compare-and-set: a redelivered task returns quietly), train, report."""
    token = uuid.uuid4().hex
    claimed = NodeRun.objects.filter(session_id=session_id, node_id=node_id, status=RunStatus.QUEUED).update(
        status=RunStatus.TRAINING, claimed_by=token
    )
    if not claimed:
        logger.info("run of %s in %s is already claimed or finished", node_id, session_id)
        return
    session = TrainingSession.objects.select_related("initial_checkpoint").get(id=session_id)
    run = NodeRun.objects.get(session_id=session_id, node_id=node_id)
    try:
        spec = node_spec(session, node_id)
        corpus = Corpus.from_bytes(
            load_bytes(session.dataset, data_roots=settings.DATA_ROOTS, data_dir=settings.DATA_DIR)
        )
        shard_steps = len(corpus.shard(run.rank, len(spec.members))) // (spec.train.batch_size * spec.model.seq_len)
        NodeRun.objects.filter(id=run.id).update(total_steps=spec.train.total_steps(max(1, shard_steps)))
        result = train_node(
            spec,
            corpus=corpus,
            exchange=_exchange(session_id),
            reporter=DatabaseReporter(run, session),
            should_stop=lambda: stop_requested(session_id),
            device=torch.device("cuda" if torch.cuda.is_available() else "cpu"),
            initial_state=_initial_state(session),
            resume=_resume(session),
            ledger=DatabaseLedger(session),
        )
        _final_checkpoint(session, run, result)
        metrics = {
            "val_loss": finite(result.val_loss),
            "val_accuracy": finite(result.val_accuracy),
            "model_hash": result.model_hash,
            "steps": result.steps,
            "rounds": len(result.rounds),
            "bytes_sent": result.bytes_sent,
            "bytes_received": result.bytes_received,
            "compute_seconds": result.compute_seconds,
            "exchange_seconds": result.exchange_seconds,
            "round_hashes": [r.model_hash for r in result.rounds],
        }
        run_finish(run_id=run.id, status=RunStatus.STOPPED if result.stopped else RunStatus.COMPLETED, metrics=metrics)
    except Exception as exc:
        logger.exception("run of %s in %s failed", node_id, session_id)
        run_finish(run_id=run.id, status=RunStatus.FAILED, metrics={}, error=f"{type(exc).__name__}: {exc}")
    finally:
        close_old_connections()
