"""The README walk-through, embedded: one server, two local nodes, no services."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live import LiveServer, fresh_database, live_server, poll, server_env

pytestmark = pytest.mark.live


def _wait_for(client: httpx.Client, predicate: Any, *, timeout: float = 120.0) -> dict[str, Any]:
    return dict(poll(lambda: client.get("/api/v1/training/status").json(), predicate, timeout=timeout, what="status"))


def test_train_stop_save_and_download_a_verified_model(server_home: Path) -> None:
    env = server_env(server_home, {"NCRSH_LOCAL_NODES": "2"})
    with fresh_database(server_home) as db, live_server(env | db) as server:
        _walk_through(server)


def _walk_through(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {server.login()}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        nodes = client.get("/api/v1/nodes").json()
        assert (nodes["total"], nodes["active"]) == (2, 2)

        started = client.post(
            "/api/v1/training/start",
            json={
                "dataset": "builtin:pystdlib",
                "model_config": {"preset": "tiny"},
                "batch_size": 8,
                "learning_rate": 0.003,
                "strategy": "diloco",
                "local_steps": 10,
                "max_steps": 100_000,
                "log_every": 5,
            },
        )
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]

        early = _wait_for(client, lambda b: b["progress"]["loss"] is not None)  # the first report
        later = _wait_for(client, lambda b: b["progress"]["round"] >= early["progress"]["round"] + 8)
        assert later["progress"]["loss"] < early["progress"]["loss"]
        hashes = {n["model_hash"] for n in later["nodes"]}
        assert all(h and h.startswith("xxh3:") for h in hashes)

        again = client.post("/api/v1/training/start", json={"dataset": "builtin:pystdlib"})
        assert (again.status_code, again.json()["error"]["code"]) == (409, 1002)

        assert client.post("/api/v1/training/stop").json()["status"] == "stopping"
        stopped = _wait_for(client, lambda b: b["status"] == "stopped", timeout=60)
        assert {n["status"] for n in stopped["nodes"]} == {"stopped"}

        session = client.get(f"/api/v1/training/sessions/{session_id}").json()
        metrics = session["metrics"]
        assert len(metrics["model_hashes"]) == 1  # both nodes hold the same model
        assert 0 <= metrics["round_overhead"] < 1
        assert metrics["stop_latency_s"] < 30
        assert session["final_model"].startswith("model_")
        history = client.get("/api/v1/consensus/history", params={"session": session_id}).json()
        assert history["total"] >= 8  # every round is in the ledger
        assert all(len(d["accepted"]) == 2 for d in history["decisions"] if d["committed"])

        saved = client.post("/api/v1/models/save", json={})
        assert saved.status_code == 201, saved.text
        listed = {m["id"]: m for m in client.get("/api/v1/models").json()["models"]}
        assert saved.json()["id"] in listed
        model = listed[session["final_model"]]
        download = client.get(f"/api/v1/models/{model['id']}/download")
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == model["sha256"]
        assert download.headers["etag"] == f'"{model["sha256"]}"'
        assert "attachment" in download.headers["content-disposition"]
        node_speeds = [n["performance"]["training_speed"] for n in client.get("/api/v1/nodes").json()["nodes"]]
        assert all(0 < speed <= 1 for speed in node_speeds)

        # The saved model becomes the next session's starting weights.
        assert client.post("/api/v1/models/load", json={"model_id": model["id"]}).json()["loaded"] is True
        resumed = client.post(
            "/api/v1/training/start",
            json={"dataset": "builtin:pystdlib", "model_config": {"preset": "tiny"}, "batch_size": 8,
                  "strategy": "diloco", "local_steps": 5, "max_steps": 10, "log_every": 5},
        )  # fmt: skip
        assert resumed.status_code == 201, resumed.text
        next_id = resumed.json()["session_id"]
        assert client.get(f"/api/v1/training/sessions/{next_id}").json()["initial_checkpoint"] == model["id"]
        finished = _wait_for(client, lambda b: b["status"] != "running", timeout=120)
        assert finished["status"] == "completed"
        first_round = client.get(f"/api/v1/training/sessions/{next_id}").json()["metrics"]["val_loss"]
        assert first_round < 4.0  # starts from trained weights, not from ln(256) = 5.55
