"""The fleet: a daphne server and three `ncrsh worker` processes on real PostgreSQL and Redis,
training the tiny model on wikitext-2 with DiLoCo; then one worker is killed mid-session."""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live import LiveServer, fresh_database, live_server, poll, server_env, worker_process
from tests.support.services import postgres_url, redis_url

pytestmark = pytest.mark.live
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


class Fleet:
    def __init__(
        self, server: LiveServer, client: httpx.Client, workers: dict[str, Any], restart: Callable[[str], Any]
    ) -> None:
        self.server, self.client, self.workers, self.restart = server, client, workers, restart

    def status(self) -> dict[str, Any]:
        return dict(self.client.get("/api/v1/training/status").json())

    def session(self, session_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/api/v1/training/sessions/{session_id}").json())

    def train(self, **overrides: Any) -> str:
        body = {
            "dataset": "file:wikitext-2/valid.txt",
            "model_config": {"preset": "tiny"},
            "strategy": "diloco",
            "batch_size": 8,
            "learning_rate": 0.003,
            "local_steps": 10,
            "max_steps": 60,
            "log_every": 5,
            "deadline_s": 15,
            **overrides,
        }
        response = self.client.post("/api/v1/training/start", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["session_id"])


@pytest.fixture
def fleet(server_home: Path) -> Iterator[Fleet]:
    if not (SHARED_DATA / "wikitext-2" / "valid.txt").is_file():
        pytest.fail(f"wikitext-2 is expected at {SHARED_DATA}")
    extra = {
        "REDIS_URL": redis_url(),
        "NCRSH_DATA_ROOTS": str(SHARED_DATA),
        "NCRSH_HEARTBEAT_S": "1",
        "NCRSH_OFFLINE_AFTER_S": "8",
    }
    with ExitStack() as stack:
        db = stack.enter_context(fresh_database(server_home, postgres=postgres_url()))
        env = server_env(server_home, extra | db)
        server = stack.enter_context(live_server(env))
        client = stack.enter_context(
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.login()}"}, timeout=30)
        )
        node_ids = [client.post("/api/v1/nodes", json={}).json()["id"] for _ in range(3)]
        workers = {node_id: stack.enter_context(worker_process(env, node_id)) for node_id in node_ids}
        # Registered as soon as they start; answering the control channel once Celery is up.
        poll(
            lambda: client.post("/api/v1/network/discover").json(),
            lambda body: sorted(body["updated"]) == sorted(node_ids),
            timeout=120,
            what="three workers to answer discovery",
        )
        yield Fleet(server, client, workers, lambda node_id: stack.enter_context(worker_process(env, node_id)))


def test_three_workers_train_with_diloco_and_the_model_verifies(fleet: Fleet) -> None:
    discovered = fleet.client.post("/api/v1/network/discover").json()
    assert sorted(discovered["updated"]) == sorted(fleet.workers)
    assert discovered["lost"] == []

    session_id = fleet.train()
    done = poll(fleet.status, lambda s: s["status"] in ("completed", "failed"), timeout=300, what="the session")
    assert done["status"] == "completed", fleet.session(session_id)
    session = fleet.session(session_id)
    assert session["metrics"]["val_loss"] < 4.0  # from ln(256) = 5.55 at initialisation
    rounds = [run["metrics"]["round_hashes"] for run in session["runs"]]
    assert len(rounds[0]) == 6
    assert all(r == rounds[0] for r in rounds), "nodes disagree on the model after some round"

    model_id = session["metrics"]["final_model"]
    model = next(m for m in fleet.client.get("/api/v1/models").json()["models"] if m["id"] == model_id)
    download = fleet.client.get(f"/api/v1/models/{model_id}/download")
    assert hashlib.sha256(download.content).hexdigest() == model["sha256"]


def test_a_killed_worker_goes_offline_the_others_go_on_and_it_rejoins(fleet: Fleet) -> None:
    session_id = fleet.train(max_steps=400, local_steps=20, deadline_s=3)
    poll(fleet.status, lambda s: s["progress"]["round"] >= 2, timeout=120, what="two rounds")
    victim = sorted(fleet.workers)[-1]
    os.killpg(fleet.workers[victim].pid, signal.SIGKILL)  # the host dies: main process and its child

    offline = poll(
        lambda: fleet.client.get(f"/api/v1/nodes/{victim}").json(),
        lambda n: n["status"] == "offline",
        timeout=60,
        what="the killed node to turn offline",
    )
    assert offline["status"] == "offline"
    done = poll(fleet.status, lambda s: s["status"] != "running", timeout=600, what="the session to end")
    assert done["status"] == "completed", [
        (r["node"], r["status"], r["error"]) for r in fleet.session(session_id)["runs"]
    ]
    runs = {run["node"]: run for run in fleet.session(session_id)["runs"]}
    assert runs[victim]["status"] == "offline"
    survivors = [run for node, run in runs.items() if node != victim]
    assert all(run["status"] == "completed" for run in survivors)
    assert survivors[0]["metrics"]["model_hash"] == survivors[1]["metrics"]["model_hash"]
