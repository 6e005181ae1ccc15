"""The embedded server's memory over a long session: a real ``ncrsh serve`` (SQLite, 2 local
nodes) trains a --steps sync_sgd session (a round, a ledger entry and events at every step) on
wikitext-2; the server process's RSS is read after --early steps, at the end of the session, and
after --idle seconds of rest. Target: the end within 100 MB of the early figure, and the rest
no higher than the end.

    python -m bench.server_memory [--steps 3000] [--early 200] [--idle 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench._common import SHARED_DATA, print_table, write_results
from tests.support.live import live_server, poll, server_env

TARGET_GROWTH_MB = 100.0


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--early", type=int, default=200, help="the step of the first reading")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of rest after the session")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = server_env(Path(home), {"NCRSH_LOCAL_NODES": "2", "NCRSH_DATA_ROOTS": str(SHARED_DATA)})
        with live_server(env) as server:
            client = httpx.Client(
                base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {server.login()}"}, timeout=30
            )
            started = client.post(
                "/training/start",
                json={
                    "dataset": "file:wikitext-2/valid.txt",
                    "model_config": {"preset": "tiny"},
                    "strategy": "sync_sgd",
                    "batch_size": 2,
                    "learning_rate": 0.003,
                    "max_steps": args.steps,
                    "log_every": 50,
                },
            )
            started.raise_for_status()
            begun = time.monotonic()
            samples: list[tuple[str, int, float]] = []

            def status() -> dict[str, Any]:
                return dict(client.get("/training/status").json())

            def step(s: dict[str, Any]) -> int:
                return int(s["progress"]["step"])

            def past(at: int) -> Callable[[dict[str, Any]], bool]:
                return lambda s: step(s) >= at

            for at in (args.early, *range(500, args.steps, 500)):
                reached = step(poll(status, past(at), timeout=3600, what=f"step {at}"))
                samples.append((f"step {reached}", reached, rss_mb(server.process.pid)))
                print(f"step {reached}: RSS {samples[-1][2]:.0f} MB ({time.monotonic() - begun:.0f}s)", flush=True)
            ended = poll(status, lambda s: s["status"] != "running", timeout=3600, what="the end of the session")
            samples.append((f"ended ({ended['status']})", args.steps, rss_mb(server.process.pid)))
            time.sleep(args.idle)
            samples.append((f"after {args.idle:.0f}s idle", args.steps, rss_mb(server.process.pid)))
    print()
    print_table(["when", "step", "RSS MB"], samples)
    early, end, rest = samples[0][2], samples[-2][2], samples[-1][2]
    print(
        f"\nRSS at step {args.early}: {early:.0f} MB; at the end of {args.steps} steps: {end:.0f} MB"
        f" (+{end - early:.0f} MB, target <= {TARGET_GROWTH_MB:.0f}); after rest: {rest:.0f} MB"
    )
    write_results(
        "server_memory",
        {"args": vars(args), "samples": samples, "early_mb": early, "end_mb": end, "rest_mb": rest},
    )


if __name__ == "__main__":
    main()
