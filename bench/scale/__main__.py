"""bench.scale's run (the package's docstring says what it measures and why)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import psycopg

import bench.scale

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


def recreate_database(url: str) -> None:
    """The bench's database, dropped if it exists and created empty."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


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
    parser = argparse.ArgumentParser(
        description=bench.scale.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
        recreate_database(args.database)
    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    from bench._common import print_table, write_results
    from bench.scale.seed import heartbeats, seed
    from training.services import sweep

    settings.ROOT_URLCONF = "bench.scale.urls"
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
