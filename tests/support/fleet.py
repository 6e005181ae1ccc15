"""A fleet for end-to-end tests: ``ncrsh serve`` and N ``ncrsh worker`` processes on real
PostgreSQL and Redis, training on wikitext-2."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live import LiveServer, fresh_database, live_server, poll, server_env, stop, worker_process
from tests.support.services import postgres_url, redis_url

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
WIKITEXT = {"dataset": "file:wikitext-2/valid.txt", "model_config": {"preset": "tiny"}, "batch_size": 8}


class Fleet:
    def __init__(self, server: LiveServer, client: httpx.Client, env: Mapping[str, str], stack: ExitStack) -> None:
        self.server, self.client, self.env, self.stack = server, client, dict(env), stack
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node_id: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """A worker for ``node_id`` (again, after a crash or a stop), with extra arguments
        (``--nproc 2``) and environment."""
        self.workers[node_id] = self.stack.enter_context(worker_process(self.env | env, node_id, *args))
        return self.workers[node_id]

    def stop(self, node_id: str) -> None:
        """A clean shutdown: the worker leaves the swarm."""
        stop(self.workers.pop(node_id), grace=60)

    def answering(self, node_ids: list[str]) -> None:
        """Wait until these workers answer the control channel (Celery is up in each)."""
        poll(
            lambda: self.client.post("/api/v1/network/discover").json(),
            lambda body: set(node_ids) <= set(body["updated"]),
            timeout=120,
            what=f"{len(node_ids)} workers to answer discovery",
        )

    def status(self) -> dict[str, Any]:
        return dict(self.client.get("/api/v1/training/status").json())

    def session(self, session_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/api/v1/training/sessions/{session_id}").json())

    def train(self, **overrides: Any) -> str:
        body = {**WIKITEXT, "strategy": "diloco", "learning_rate": 0.003, "local_steps": 10, "max_steps": 60}
        response = self.client.post(
            "/api/v1/training/start", json=body | {"log_every": 5, "deadline_s": 15} | overrides
        )
        assert response.status_code == 201, response.text
        return str(response.json()["session_id"])

    def finished(self, session_id: str, *, timeout: float = 300) -> dict[str, Any]:
        poll(self.status, lambda s: s["status"] not in ("running", "stopping"), timeout=timeout, what="the session")
        return self.session(session_id)


@contextmanager
def running_fleet(
    home: Path, workers: int, *, redis: str | None = None, worker_args: tuple[str, ...] = ()
) -> Iterator[Fleet]:
    if not (SHARED_DATA / "wikitext-2" / "valid.txt").is_file():
        pytest.fail(f"wikitext-2 is expected at {SHARED_DATA}")
    extra = {
        "REDIS_URL": redis or redis_url(),
        "NCRSH_DATA_ROOTS": str(SHARED_DATA),
        "NCRSH_HEARTBEAT_S": "1",
        "NCRSH_OFFLINE_AFTER_S": "8",
    }
    with ExitStack() as stack:
        db = stack.enter_context(fresh_database(home, postgres=postgres_url()))
        env = server_env(home, extra | db)
        server = stack.enter_context(live_server(env))
        client = stack.enter_context(
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.login()}"}, timeout=30)
        )
        fleet = Fleet(server, client, env, stack)
        node_ids = [client.post("/api/v1/nodes", json={}).json()["id"] for _ in range(workers)]
        for node_id in node_ids:
            fleet.start(node_id, *worker_args)
        fleet.answering(node_ids)
        yield fleet
