"""Where Django meets the engine: one node's run of one session, in a task body (what it
reports on the way is ``training.reporting``'s).

Imported by ``training.tasks.run_node`` when it runs, never by the web process (torch).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator

import torch
from django.conf import settings
from django.db import close_old_connections, transaction

from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.data import Corpus
from engine.exchange import Exchange, InMemoryExchange, MemoryStore, RedisExchange
from engine.files import file_sha256
from engine.node import NodeResult, NodeSpec, Resume, node_batches, train_node
from engine.tokenizer import Tokenizer
from models_store.dataset_services import dataset_local
from models_store.selectors import checkpoint_path
from models_store.services import checkpoint_register, snapshot_latest
from ncrsh_site.api import finite
from ncrsh_site.errors import ConsensusFailed, DomainError
from nodes.identity import node_identity
from training.models import NodeRun, RunStatus, TrainingSession
from training.reporting import DatabaseLedger, DatabaseReporter, run_pulse, run_reporter
from training.services import StaleRun, run_finish, stop_requested

logger = logging.getLogger(__name__)


class _Stores:
    """Embedded mode: the nodes of a session are threads of this process and meet in the
    session's store, which lives while any of its runs does (the exchange itself forgets each
    round once every member has its decision)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stores: dict[str, tuple[MemoryStore, int]] = {}

    @contextlib.contextmanager
    def held(self, session_id: str) -> Iterator[MemoryStore]:
        with self.lock:
            store, users = self.stores.get(session_id, (MemoryStore(), 0))
            self.stores[session_id] = (store, users + 1)
        try:
            yield store
        finally:
            with self.lock:
                store, users = self.stores[session_id]
                if users > 1:
                    self.stores[session_id] = (store, users - 1)
                else:
                    del self.stores[session_id]


_stores = _Stores()


@contextlib.contextmanager
def _exchange(session_id: str) -> Iterator[Exchange]:
    if settings.EMBEDDED:
        with _stores.held(session_id) as store:
            yield InMemoryExchange(store)
        return
    exchange = RedisExchange(settings.REDIS_URL, prefix=f"{settings.CACHE_KEY_PREFIX}:exchange", ttl_s=24 * 3600)
    try:
        yield exchange
    finally:
        exchange.close()


def node_spec(session: TrainingSession, node_id: str) -> NodeSpec:
    plan = session.plan
    return NodeSpec(
        node_id=node_id,
        members=plan.members,
        model=plan.model,
        train=plan.train,
        strategy=plan.strategy,
        policy=plan.policy,
        session=session.id,
        fault=settings.FAULT_INJECTION.get(node_id),
        wire_dtype=plan.wire_dtype,
    )


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
    loaded = load_checkpoint(checkpoint_path(checkpoint), sha256=checkpoint.sha256)
    return loaded.tensors


def _final_checkpoint(session: TrainingSession, run: NodeRun, result: NodeResult, tokenizer: Tokenizer) -> None:
    """The first node to finish registers the session's final model (all hold the same one)."""
    with transaction.atomic():
        locked = TrainingSession.objects.select_for_update().filter(id=session.id, final_model=None).first()
        if locked is None:
            return
        path = settings.CHECKPOINT_DIR / "sessions" / f"{session.id}.{run.node_id}.final.safetensors"
        last_round = result.rounds[-1].index + 1 if result.rounds else 0
        reporter = DatabaseReporter(run, session, tokenizer)
        reporter.step = result.steps
        save_checkpoint(path, result.state, reporter.metadata(last_round, result.model_hash))
        checkpoint = checkpoint_register(
            source=path,
            session_id=session.id,
            round_index=last_round,
            step=result.steps,
            model_hash=result.model_hash,
            metrics={
                "val_loss": finite(result.val_loss),
                "val_bits_per_byte": finite(result.val_bits_per_byte),
                "val_accuracy": finite(result.val_accuracy),
            },
            model_config=session.plan.model.to_dict(),
        )
        path.unlink(missing_ok=True)
        locked.final_model = checkpoint
        locked.save(update_fields=["final_model"])


def execute_run(session_id: str, node_id: str) -> None:
    """Claim this node's run (compare-and-set: a redelivered task returns quietly), train, report.
    A dataset that cannot be read, or a session in which no round could commit, fails the run
    with the reason (in the session's status and the training_stopped event)."""
    token = uuid.uuid4().hex
    claimed = NodeRun.objects.filter(session_id=session_id, node_id=node_id, status=RunStatus.QUEUED).update(
        status=RunStatus.TRAINING, claimed_by=token
    )
    if not claimed:
        logger.info("run of %s in %s is already claimed or finished", node_id, session_id)
        return
    session = TrainingSession.objects.select_related("initial_checkpoint").get(id=session_id)
    run = NodeRun.objects.get(session_id=session_id, node_id=node_id)
    with run_pulse(run.id, token):
        _train_run(session, run, token)


def _train_run(session: TrainingSession, run: NodeRun, token: str) -> None:
    session_id, node_id = session.id, run.node_id
    try:
        spec = node_spec(session, node_id)
        plan = session.plan
        corpus = Corpus.open(dataset_local(dataset=plan.dataset, tokenizer=plan.tokenizer, vocab_size=plan.vocab_size))
        NodeRun.objects.filter(id=run.id, claimed_by=token).update(
            total_steps=spec.train.total_steps(node_batches(spec, corpus).steps_per_epoch)
        )
        with _exchange(session_id) as exchange, run_reporter(run, session, corpus.tokenizer) as reporter:
            result = train_node(
                spec,
                corpus=corpus,
                exchange=exchange,
                reporter=reporter,
                should_stop=lambda: stop_requested(session_id),
                device=torch.device("cuda" if torch.cuda.is_available() else "cpu"),
                initial_state=_initial_state(session),
                resume=_resume(session),
                ledger=DatabaseLedger(session),
                identity=node_identity(node_id),
                peak_flops=settings.PEAK_FLOPS,
            )
        if result.rounds and not result.stopped and not any(r.committed for r in result.rounds):
            reasons = sorted({r.reason for r in result.rounds})
            raise ConsensusFailed(f"none of {len(result.rounds)} rounds committed: {'; '.join(reasons)}")
        _final_checkpoint(session, run, result, corpus.tokenizer)
        metrics = {
            "val_loss": finite(result.val_loss),
            "val_bits_per_byte": finite(result.val_bits_per_byte),
            "val_accuracy": finite(result.val_accuracy),
            "model_hash": result.model_hash,
            "steps": result.steps,
            "rounds": len(result.rounds),
            "bytes_sent": result.bytes_sent,
            "bytes_received": result.bytes_received,
            "compute_seconds": result.compute_seconds,
            "exchange_seconds": result.exchange_seconds,
        }
        status = RunStatus.STOPPED if result.stopped else RunStatus.COMPLETED
        run_finish(run_id=run.id, status=status, metrics=metrics, claim=token)
    except StaleRun:
        logger.warning(
            "run of %s in %s was taken over by a rejoined incarnation; its result is dropped", node_id, session_id
        )
    except Exception as exc:
        logger.exception("run of %s in %s failed", node_id, session_id)
        reason = (
            f"{exc.message} ({exc.error_code}): {exc}"
            if isinstance(exc, DomainError)
            else f"{type(exc).__name__}: {exc}"
        )
        try:
            run_finish(run_id=run.id, status=RunStatus.FAILED, metrics={}, error=reason, claim=token)
        except StaleRun:
            logger.warning("run of %s in %s was taken over; its failure is not recorded", node_id, session_id)
    finally:
        close_old_connections()
