"""The spec's limits hold across server processes that share Redis (fleet mode)."""

from __future__ import annotations

import time
from itertools import cycle
from pathlib import Path

import httpx
import pytest

from tests.support.live import fresh_database, live_server, server_env
from tests.support.services import redis_url

pytestmark = pytest.mark.live


def _fresh_window(url: str) -> httpx.Response:
    """A counted request with most of its one-minute window still ahead (no roll-over mid-test)."""
    probe = httpx.get(url)
    if int(probe.headers["X-RateLimit-Reset"]) < 25:
        time.sleep(int(probe.headers["X-RateLimit-Reset"]) + 1)
        probe = httpx.get(url)
    return probe


def test_the_101st_anonymous_request_is_429_whichever_process_serves_it(server_home: Path) -> None:
    env = {"REDIS_URL": redis_url()}
    with fresh_database(server_home) as db:
        env_both = server_env(server_home, db | env)
        with live_server(env_both) as first, live_server(env_both) as second:
            token = first.login()
            servers = cycle([first.url, second.url])
            probe = _fresh_window(f"{next(servers)}/api/v1/nodes")
            assert probe.headers["X-RateLimit-Limit"] == "100"
            remaining = int(probe.headers["X-RateLimit-Remaining"])
            answers = [httpx.get(f"{next(servers)}/api/v1/nodes").status_code for _ in range(remaining)]
            assert answers == [401] * remaining
            over = [httpx.get(f"{next(servers)}/api/v1/nodes") for _ in range(2)]
            assert [r.status_code for r in over] == [429, 429]  # one from each process
            assert over[0].json()["error"]["message"] == "RATE_LIMITED"
            assert int(over[0].headers["Retry-After"]) >= 1

            headers = {"Authorization": f"Bearer {token}"}
            held = [httpx.get(f"{next(servers)}/api/v1/nodes", headers=headers).status_code for _ in range(101)]
            assert held == [200] * 101
