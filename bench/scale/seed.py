"""The fleet and its ledger that bench.scale measures, written into PostgreSQL."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from nodes.models import Node
from nodes.network import LATENCY_BUCKETS_S, ROUND_BUCKETS_S
from nodes.services import DEFAULT_CONFIG
from training.models import NodeRun, RunStatus, SessionStatus, TrainingSession
from training.plan import SessionPlan


def _histogram(bounds: tuple[float, ...], seed: int) -> dict[str, Any]:
    counts = [(seed * (i + 3)) % 17 for i in range(len(bounds) + 1)]
    return {"counts": counts, "sum": float(sum(counts)) * 0.01, "count": sum(counts), "min": 0.0004, "max": 4.2}


def seed(*, nodes: int, sessions: int, rounds: int, members: int) -> dict[str, int]:
    """The fleet and its ledger: nodes and sessions through the ORM, the ledger's millions of
    rows by set-based SQL."""
    now = timezone.now()
    ids = [f"node_{i:08x}" for i in range(nodes)]
    rows = []
    for i, node_id in enumerate(ids):
        peers = {
            ids[(i + k) % nodes]: {
                "bytes": 77_000_000 * k,
                "fetches": 100,
                "latency_sum_s": 4.2,
                "latency_last_s": 0.04,
            }
            for k in (1, 2, 3)
        }
        network = {
            "bytes_sent": 7_700_000_000 + i,
            "bytes_received": 23_100_000_000 + i,
            "latency": _histogram(LATENCY_BUCKETS_S, i),
            "round_seconds": _histogram(ROUND_BUCKETS_S, i + 1),
            "session": f"training_{(i // members) % sessions:012x}",
            "partition": False,
            "peers": peers,
        }
        rows.append(
            Node(
                id=node_id,
                address=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:8080",
                model_hash="sha256:" + f"{i:064x}",
                training_speed=0.9,
                memory_usage=0.5,
                network_latency=12.5,
                memory_total=80 << 30,
                config=DEFAULT_CONFIG,
                network=network,
            )
        )
    Node.objects.bulk_create(rows, batch_size=2000)
    heartbeats(nodes)

    session_rows, run_rows = [], []
    for s in range(sessions):
        session_members = [ids[(s * members + k) % nodes] for k in range(members)]
        plan = SessionPlan.build(
            members=session_members,
            request={"dataset": "builtin:pystdlib", "strategy": "diloco", "batch_size": 8, "learning_rate": 1e-3},
        )
        running = s == sessions - 1
        session_id = f"training_{s:012x}"
        session_rows.append(
            TrainingSession(
                id=session_id,
                status=SessionStatus.RUNNING if running else SessionStatus.COMPLETED,
                dataset=plan.dataset,
                strategy=plan.strategy.name,
                batch_size=8,
                learning_rate=1e-3,
                config=plan.to_json(),
                metrics={} if running else {"val_loss": 2.1, "rounds": rounds, "steps": rounds * 500},
                finished_at=None if running else now,
            )
        )
        for rank, node_id in enumerate(session_members):
            run_rows.append(
                NodeRun(
                    session_id=session_id,
                    node_id=node_id,
                    rank=rank,
                    status=RunStatus.TRAINING if running else RunStatus.COMPLETED,
                    step=rounds * 500,
                    total_steps=rounds * 500,
                    loss=2.2,
                    bits_per_byte=3.1,
                    tokens_per_s=50_000.0,
                    round=rounds,
                    model_hash="sha256:" + "ab" * 32,
                    metrics={} if running else {"val_loss": 2.1, "rounds": rounds, "model_hash": "sha256:" + "ab" * 32},
                )
            )
    TrainingSession.objects.bulk_create(session_rows, batch_size=500)
    NodeRun.objects.bulk_create(run_rows, batch_size=2000)
    with connection.cursor() as cursor:
        # Sessions one second apart, the running one last.
        cursor.execute(
            """
            UPDATE training_trainingsession t SET created_at = now() - (%s - o.n) * interval '1 second'
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM training_trainingsession) o WHERE o.id = t.id
            """,
            [sessions],
        )
        # One row per (session, round); members are the session's runs' nodes.
        cursor.execute(
            """
            INSERT INTO consensus_round (id, index, status, members, base_hash, created_at, session_id, deadline)
            SELECT s.n * %(rounds)s + r + 1, r, 'committed',
                   (SELECT jsonb_agg(node_id ORDER BY rank) FROM training_noderun WHERE session_id = s.id),
                   'sha256:' || md5(s.id || r), s.created_at + r * interval '1 second', s.id, NULL
            FROM (SELECT id, created_at, row_number() OVER (ORDER BY id) - 1 AS n FROM training_trainingsession) s,
                 generate_series(0, %(rounds)s - 1) r
            """,
            {"rounds": rounds},
        )
        cursor.execute(
            """
            INSERT INTO consensus_decision (id, committed, accepted, rejected, approvals, rejections, aggregator,
                                            model_hash, reason, decided_by, created_at, round_id, base_hash,
                                            confirmed_by, diverged)
            SELECT r.id, true, r.members, '[]'::jsonb,
                   (SELECT jsonb_object_agg(m, %(members)s) FROM jsonb_array_elements_text(r.members) m), '{}'::jsonb,
                   '{"name": "mean"}'::jsonb, 'sha256:' || md5(r.session_id || r.index || 'after'), '',
                   r.members ->> 0, r.created_at, r.id, r.base_hash, r.members, '{}'::jsonb
            FROM consensus_round r
            """,
            {"members": members},
        )
        cursor.execute(
            """
            INSERT INTO consensus_proposal (id, node_id, outcome, round_id, loss, norm, samples)
            SELECT r.id * %(members)s + m.k, m.node, 'accepted', r.id, 2.2, 1.5, 4096
            FROM consensus_round r, jsonb_array_elements_text(r.members) WITH ORDINALITY m(node, k)
            """,
            {"members": members},
        )
        cursor.execute(
            """
            INSERT INTO consensus_vote (id, voter, approve, reason, created_at, proposal_id)
            SELECT p.id * %(members)s + v.k, v.voter, true, '', now(), p.id
            FROM consensus_proposal p JOIN consensus_round r ON r.id = p.round_id,
                 jsonb_array_elements_text(r.members) WITH ORDINALITY v(voter, k)
            """,
            {"members": members},
        )
        # A checkpoint of each session's final model, as saved at its end.
        cursor.execute(
            """
            INSERT INTO models_store_checkpoint (id, round, step, filename, size, sha256, model_hash, metrics,
                                                 model_config, loaded_at, created_at, session_id)
            SELECT 'model_' || substr(r.session_id, 10), r.index, 0, 'model_' || substr(r.session_id, 10) || '.pt',
                   1, repeat('0', 64), d.model_hash, '{}'::jsonb, '{}'::jsonb, NULL, now(), r.session_id
            FROM consensus_decision d JOIN consensus_round r ON r.id = d.round_id
            WHERE r.index = %(last)s
            """,
            {"last": rounds - 1},
        )
        for table in ("consensus_round", "consensus_decision", "consensus_proposal", "consensus_vote"):
            cursor.execute(  # the bench's own table names, not input
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        cursor.execute("ANALYZE")
        counts = {}
        for table in ("nodes_node", "consensus_round", "consensus_proposal", "consensus_vote", "consensus_decision"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (the bench's own table names)
            counts[table] = cursor.fetchone()[0]
    return counts


def heartbeats(nodes: int) -> int:
    """The fleet as the bench measures it: the first 80% of the nodes alive, the last quarter of
    those past their heartbeat (a sweep's work: returns how many), the rest offline."""
    alive, stale = int(nodes * 0.8), int(nodes * 0.2)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE nodes_node SET
                status = CASE WHEN n < %(alive)s THEN 'active' ELSE 'offline' END,
                last_seen = CASE WHEN n < %(alive)s - %(stale)s THEN now() ELSE now() - interval '1 day' END
            FROM (SELECT id AS node, row_number() OVER (ORDER BY id) - 1 AS n FROM nodes_node) o
            WHERE o.node = nodes_node.id
            """,
            {"alive": alive, "stale": stale},
        )
        cursor.execute("VACUUM ANALYZE nodes_node")  # as autovacuum does after a wave of heartbeats
    return stale
