"""WebSocket fan-out: events published from another process reach 100 connected clients of a
real ``ncrsh serve`` (daphne, Redis pub/sub channel layer), against raw Redis pub/sub to 100
subscribers in the same run: delivery latency p50/p99 and delivered events/s.

Two phases per system: paced (events at a steady rate: latency) and burst (as fast as the
publisher goes: throughput). The publisher is its own process; for the feed it calls
``ncrsh_site.events.publish``, exactly as a worker does.

    python -m bench.ws_fanout [--clients 100] [--paced 300] [--rate 100] [--burst 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
import websockets

from bench._common import ROOT, print_table, write_results
from tests.support.live import fresh_database, live_server, server_env

CHANNEL = "bench:ws_fanout"
EVENT_TYPE = "training_progress"


@dataclass
class Phase:
    name: str
    count: int
    rate: float  # events/s; 0: as fast as possible


@dataclass
class Result:
    latencies: list[float]  # seconds, one per delivery
    first_sent: float
    last_arrival: float
    expected: int

    def row(self, system: str, phase: str) -> list[Any]:
        return [
            system,
            phase,
            f"{len(self.latencies)}/{self.expected}",
            self.p50 * 1000,
            self.p99 * 1000,
            self.events_per_s,
        ]

    @property
    def events_per_s(self) -> float:
        return len(self.latencies) / max(self.last_arrival - self.first_sent, 1e-9)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98]


# --- the publisher process ---------------------------------------------------------------------
def publish(system: str, count: int, rate: float, start_at: float, redis_url: str) -> None:
    send: Callable[[dict[str, Any]], None]
    if system == "feed":
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ncrsh_site.settings")
        django.setup()
        from ncrsh_site import events

        def send(data: dict[str, Any]) -> None:
            events.publish(EVENT_TYPE, data)

    else:
        client = redis.Redis.from_url(redis_url)

        def send(data: dict[str, Any]) -> None:
            client.publish(CHANNEL, json.dumps({"type": EVENT_TYPE, "data": data, "timestamp": ""}))

    time.sleep(max(0.0, start_at - time.time()))
    for seq in range(count):
        if rate:
            time.sleep(max(0.0, start_at + seq / rate - time.time()))
        send({"seq": seq, "sent_at": time.time()})


def start_publisher(system: str, phase: Phase, env: Mapping[str, str], redis_url: str) -> subprocess.Popen[bytes]:
    start_at = time.time() + (4.0 if system == "feed" else 1.0)  # Django's start-up comes first
    command = [sys.executable, "-m", "bench.ws_fanout", "--publish", system, "--count", str(phase.count)]
    command += ["--rate", str(phase.rate), "--start-at", str(start_at), "--redis", redis_url]
    return subprocess.Popen(command, env=dict(env), cwd=ROOT)


# --- the receiving side ------------------------------------------------------------------------
async def receive(
    messages: Any, phase: Phase, decode: Callable[[Any], dict[str, Any] | None], got: list[tuple[float, float]]
) -> None:
    """Adds (sent_at, arrived_at) to ``got`` for each event until ``phase.count`` arrived."""
    async for raw in messages:
        event = decode(raw)
        if event is None:
            continue
        got.append((event["data"]["sent_at"], time.time()))
        if len(got) == phase.count:
            break


async def measure(
    phase: Phase, readers: Sequence[Callable[[list[tuple[float, float]]], Coroutine[Any, Any, None]]], publisher: Any
) -> Result:
    """Run the readers until every one has all events, or the time-out: then count what came."""
    timeout = 30 + (phase.count / phase.rate if phase.rate else 0)
    received: list[list[tuple[float, float]]] = [[] for _ in readers]
    await asyncio.wait(
        [asyncio.create_task(read(got)) for read, got in zip(readers, received, strict=True)], timeout=timeout
    )
    if await asyncio.to_thread(publisher.wait) != 0:
        raise RuntimeError("the publisher failed")
    pairs = [pair for got in received for pair in got]
    if not pairs:
        raise RuntimeError(f"nothing delivered in the {phase.name} phase")
    return Result(
        latencies=[arrived - sent for sent, arrived in pairs],
        first_sent=min(sent for sent, _ in pairs),
        last_arrival=max(arrived for _, arrived in pairs),
        expected=phase.count * len(readers),
    )


async def feed_phase(
    url: str, token: str, clients: int, phase: Phase, env: Mapping[str, str], redis_url: str
) -> Result:
    connections = [
        await websockets.connect(f"{url}?token={token}&types={EVENT_TYPE}", max_queue=None) for _ in range(clients)
    ]
    try:
        publisher = start_publisher("feed", phase, env, redis_url)
        readers = [lambda got, c=c: receive(c, phase, json.loads, got) for c in connections]
        return await measure(phase, readers, publisher)
    finally:
        await asyncio.gather(*(c.close() for c in connections))


def _redis_message(message: Mapping[str, Any]) -> dict[str, Any] | None:
    return json.loads(message["data"]) if message["type"] == "message" else None


async def redis_phase(redis_url: str, clients: int, phase: Phase, env: Mapping[str, str]) -> Result:
    subscribers = [aioredis.Redis.from_url(redis_url).pubsub() for _ in range(clients)]
    for subscriber in subscribers:
        await subscriber.subscribe(CHANNEL)
    try:
        publisher = start_publisher("redis", phase, env, redis_url)
        readers = [lambda got, s=s: receive(s.listen(), phase, _redis_message, got) for s in subscribers]
        return await measure(phase, readers, publisher)
    finally:
        for subscriber in subscribers:
            await subscriber.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--paced", type=int, default=300, help="events in the paced phase")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s in the paced phase")
    parser.add_argument("--burst", type=int, default=1000, help="events in the burst phase")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--publish", choices=("feed", "redis"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(args.publish, args.count, args.rate, args.start_at, args.redis)
        return
    phases = [Phase("paced", args.paced, args.rate), Phase("burst", args.burst, 0.0)]
    redis.Redis.from_url(args.redis).ping()
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ws_fanout-")))
        db = stack.enter_context(fresh_database(home))
        env = server_env(home, {"REDIS_URL": args.redis, "DATABASE_URL": ""} | db)
        server = stack.enter_context(live_server(env))
        url, token = server.url.replace("http://", "ws://", 1) + "/api/v1/ws", server.login()
        print(f"{args.clients} clients; server {server.url}; Redis {args.redis}", flush=True)
        results: dict[tuple[str, str], Result] = {}
        for phase in phases:
            print(f"{phase.name}: {phase.count} events" + (f" at {phase.rate:g}/s" if phase.rate else ""), flush=True)
            results["redis", phase.name] = asyncio.run(redis_phase(args.redis, args.clients, phase, env))
            results["feed", phase.name] = asyncio.run(feed_phase(url, token, args.clients, phase, env, args.redis))
    print()
    print_table(
        ["system", "phase", "delivered", "p50 ms", "p99 ms", "events/s"],
        [result.row(system, phase) for (system, phase), result in results.items()],
    )
    latency_ratio = results["feed", "paced"].p50 / results["redis", "paced"].p50
    throughput_ratio = results["feed", "burst"].events_per_s / results["redis", "burst"].events_per_s
    print(f"\nfeed / raw Redis pub/sub: p50 latency (paced) {latency_ratio:.2f}x,", end=" ")
    print(f"delivered events/s (burst) {throughput_ratio:.2f}x")
    write_results(
        "ws_fanout",
        {
            "clients": args.clients,
            "phases": {p.name: {"count": p.count, "rate": p.rate} for p in phases},
            "results": {
                f"{system}/{phase}": {
                    "delivered": len(r.latencies),
                    "expected": r.expected,
                    "p50_ms": r.p50 * 1000,
                    "p99_ms": r.p99 * 1000,
                    "events_per_s": r.events_per_s,
                }
                for (system, phase), r in results.items()
            },
            "latency_ratio_p50": latency_ratio,
            "throughput_ratio": throughput_ratio,
        },
    )


if __name__ == "__main__":
    main()
