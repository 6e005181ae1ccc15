"""kill -9 of the embedded server mid-session, then a restart (issue 17): on main at dabd97c the
session stayed 'running' at its last step for good, every start answered 409 and a stop left it
'stopping' forever. Now the restarted server's local nodes take their runs up again from the last
committed round, and the swarm is usable: stopped, then a new session starts."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.conftest import SHARED_DATA
from tests.support.live import LiveServer, fresh_database, live_server, poll, server_env

pytestmark = pytest.mark.live
START = {
    "dataset": "file:wikitext-2/valid.txt",
    "model_config": {"preset": "tiny"},
    "strategy": "diloco",
    "batch_size": 8,
    "local_steps": 10,
    "log_every": 5,
    "deadline_s": 10,
    "max_steps": 100_000,
}


def api(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.login()}"}, timeout=30)


def status(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get("/api/v1/training/status").json())


def test_a_killed_embedded_server_resumes_its_session_on_restart_and_the_swarm_stays_usable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with fresh_database(home) as db:
        env = server_env(home, db | {"NCRSH_DATA_ROOTS": str(SHARED_DATA)})
        with live_server(env) as server, api(server) as client:
            started = client.post("/api/v1/training/start", json=START)
            assert started.status_code == 201, started.text
            session_id = started.json()["session_id"]
            before = poll(lambda: status(client), lambda s: s["progress"]["round"] >= 2, timeout=120, what="2 rounds")
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()

        with live_server(env) as server, api(server) as client:
            resumed = poll(
                lambda: status(client),
                lambda s: s["status"] == "running" and s["progress"]["round"] > before["progress"]["round"],
                timeout=60,
                what="the session to go on past the rounds it had before the crash",
            )
            assert resumed["session_id"] == session_id
            assert client.post("/api/v1/training/stop").status_code == 200
            ended = poll(lambda: status(client), lambda s: s["status"] == "stopped", timeout=60, what="the stop")
            assert ended["session_id"] == session_id
            again = client.post("/api/v1/training/start", json=START | {"max_steps": 20})
            assert again.status_code == 201, again.text
