"""The control plane at fleet scale: seeds a PostgreSQL database with a large fleet and ledger,
then times every read endpoint of the spec through Django's full request stack (middleware,
JWT authentication, throttling, DRF), and ``GET /api/v1/nodes`` side by side with a bare Django
view that runs the same queries.

    python -m bench.scale [--nodes 10000] [--sessions 1000] [--rounds 100] [--members 4] [--requests 50]

Defaults: 10,000 nodes (8,000 alive, 2,000 of them past their heartbeat), 1,000 sessions (the
last one running) of 4 members and 100 rounds each: 100,000 rounds and decisions, 400,000
proposals, 1.6 M votes. It needs PostgreSQL (``--database``, default the local server's
``ncrsh_scale`` database, dropped and created) and Redis (the fleet's cache; ``--redis``).
Targets: every endpoint's p50 <= 100 ms, ``/metrics`` <= 1 MB, nodes/bare >= 0.7.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any
from urllib.parse import urlsplit

P50_TARGET_MS = 100.0
METRICS_TARGET_BYTES = 1_000_000
BARE_RATIO_TARGET = 0.7


def _configure(args: argparse.Namespace) -> None:
    """Django settings for a fleet web process on the bench's database, before django.setup()."""
    os.environ.update(
        DATABASE_URL=args.database,
        REDIS_URL=args.redis,
        NCRSH_LOCAL_NODES="0",
        NCRSH_RATE_LIMIT_AUTHENTICATED="1000000",
        NCRSH_OFFLINE_AFTER_S="3600",
        NCRSH_CACHE_PREFIX=f"scale{os.getpid()}",
        DJANGO_SETTINGS_MODULE="ncrsh_site.settings",
    )


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _histogram(bounds: tuple[float, ...], seed: int) -> dict[str, Any]:
    counts = [(seed * (i + 3)) % 17 for i in range(len(bounds) + 1)]
    return {"counts": counts, "sum": float(sum(counts)) * 0.01, "count": sum(counts), "min": 0.0004, "max": 4.2}


def seed(*, nodes: int, sessions: int, rounds: int, members: int) -> dict[str, int]:
    """The fleet and its ledger: nodes and sessions through the ORM, the ledger's millions of
    rows by set-based SQL."""

    from django.db import connection
    from django.utils import timezone

    from nodes.models import Node
    from nodes.network import LATENCY_BUCKETS_S, ROUND_BUCKETS_S
    from nodes.services import DEFAULT_CONFIG
    from training.models import NodeRun, RunStatus, SessionStatus, TrainingSession
    from training.plan import SessionPlan

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
    from django.db import connection

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


def bare_nodes(request: Any) -> Any:
    """``GET /api/v1/nodes``'s work without DRF: the same authentication, the same queries and
    rows, JsonResponse."""
    from django.core.serializers.json import DjangoJSONEncoder
    from django.http import JsonResponse
    from rest_framework_simplejwt.authentication import JWTAuthentication

    from nodes import selectors

    if JWTAuthentication().authenticate(request) is None:
        return JsonResponse({}, status=401)
    nodes = selectors.node_list()
    total, active = selectors.node_counts(nodes)
    limit = int(request.GET.get("limit", 100))
    page = [selectors.node_row(n) for n in nodes.only(*selectors.NODE_LIST_FIELDS)[:limit]]
    return JsonResponse({"nodes": page, "total": total, "active": active}, encoder=DjangoJSONEncoder)


def _urlpatterns() -> list[Any]:
    from django.urls import include, path

    return [path("bench/nodes", bare_nodes), path("", include("ncrsh_site.urls"))]


def _counted(call: Any) -> tuple[Any, int]:
    """The call's result, and how many SQL statements it executed."""
    from django.db import connection

    executed = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal executed
        executed += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        result = call()
    return result, executed


def _time(client: Any, url: str, requests: int, headers: dict[str, str]) -> dict[str, float]:
    first, queries = _counted(lambda: client.get(url, **headers))
    if first.status_code != 200:
        raise SystemExit(f"{url}: {first.status_code} {first.content[:300]!r}")
    size = len(first.content if not first.streaming else b"".join(first.streaming_content))
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, **headers)
        if response.streaming:
            b"".join(response.streaming_content)
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    return {
        "p50_ms": statistics.median(seconds) * 1000,
        "p99_ms": seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] * 1000,
        "bytes": size,
        "queries": queries,
    }


def _rate(client: Any, url: str, seconds: float, headers: dict[str, str]) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        client.get(url, **headers)
        done += 1
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=100, help="rounds per session")
    parser.add_argument("--members", type=int, default=4, help="nodes per session")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per endpoint")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/ncrsh_scale")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database of an earlier run")
    args = parser.parse_args()
    _configure(args)

    import django

    if not args.reuse:
        _recreate_database(args.database)
    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    from bench._common import print_table, write_results
    from training.services import sweep

    sys.modules[__name__].urlpatterns = _urlpatterns()  # type: ignore[attr-defined]
    settings.ROOT_URLCONF = __name__
    call_command("migrate", verbosity=0)
    if not args.reuse:
        started = time.perf_counter()
        print("seeding...", flush=True)
        counts = seed(nodes=args.nodes, sessions=args.sessions, rounds=args.rounds, members=args.members)
        print(f"seeded in {time.perf_counter() - started:.0f}s: {json.dumps(counts)}", flush=True)
    user, _ = User.objects.get_or_create(username="bench-operator", defaults={"is_staff": True})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {RefreshToken.for_user(user).access_token}"}
    client = Client()
    running = f"training_{args.sessions - 1:012x}"
    endpoints = [
        "/api/v1/nodes",
        "/api/v1/nodes?limit=1000",
        "/api/v1/nodes/node_00000001",
        "/api/v1/training/status",
        "/api/v1/training/sessions",
        f"/api/v1/training/sessions/{running}",
        "/api/v1/models",
        "/api/v1/network/topology",
        "/api/v1/network/metrics",
        "/api/v1/consensus/status",
        "/api/v1/consensus/history",
        f"/api/v1/consensus/history?session={running}",
        "/api/v1/datasets",
        "/health",
        "/health/ready",
        "/metrics",
    ]
    rows, results = [], {}
    stale = heartbeats(args.nodes)
    started = time.perf_counter()
    _, queries = _counted(sweep)
    swept_ms = (time.perf_counter() - started) * 1000
    rows.append([f"(sweep: {stale} stale nodes)", swept_ms, swept_ms, 0, queries])
    results["sweep"] = {"p50_ms": swept_ms, "p99_ms": swept_ms, "bytes": 0, "queries": queries}
    heartbeats(args.nodes)  # the endpoints see the stale nodes too
    for url in endpoints:
        figures = _time(client, url, args.requests, headers)
        results[url] = figures
        rows.append([url, figures["p50_ms"], figures["p99_ms"], figures["bytes"], figures["queries"]])
        print(f"{url}: p50 {figures['p50_ms']:.1f} ms", flush=True)
    # What a scrape past the cache window costs: the exposition built from the database.
    settings.METRICS_CACHE_S = 0
    built = results["/metrics (built)"] = _time(client, "/metrics", args.requests, headers)
    rows.append(["/metrics (built)", built["p50_ms"], built["p99_ms"], built["bytes"], built["queries"]])
    print()
    print_table(["endpoint", "p50 ms", "p99 ms", "bytes", "queries"], rows)

    # Side by side, alternating, so that both see the same machine.
    drf = bare = 0.0
    for _ in range(3):
        drf += _rate(client, "/api/v1/nodes", 2.0, headers)
        bare += _rate(client, "/bench/nodes", 2.0, headers)
    ratio = drf / bare
    slowest = max((f for url, f in results.items() if url != "sweep"), key=lambda f: f["p50_ms"])
    print(
        f"\nGET /api/v1/nodes vs a bare Django view, requests/s: {drf / 3:.0f} vs {bare / 3:.0f}: {ratio:.2f}x"
        f" (target >= {BARE_RATIO_TARGET})"
    )
    print(f"slowest p50: {slowest['p50_ms']:.1f} ms (target <= {P50_TARGET_MS:.0f})")
    print(f"/metrics: {results['/metrics']['bytes']:,} bytes (target <= {METRICS_TARGET_BYTES:,})")
    write_results(
        "scale",
        {"args": vars(args), "endpoints": results, "nodes_vs_bare": ratio},
    )


if __name__ == "__main__":
    main()
