"""The event feed end to end: a real daphne, real worker processes, the ``websockets`` client."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.events import Event, event_validator, listening
from tests.support.live import fresh_database, live_server, poll, server_env, worker_process
from tests.support.services import postgres_url, promtool_check, redis_url

pytestmark = pytest.mark.live


def _ws(url: str) -> str:
    return url.replace("http://", "ws://", 1) + "/api/v1/ws"


def _gauge(client: httpx.Client, name: str) -> list[float]:
    text = client.get("/metrics").text
    return [float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)]


def _of(events: list[Event], type_: str, **data: object) -> list[Event]:
    return [e for e in events if e["type"] == type_ and all(e["data"].get(k) == v for k, v in data.items())]


def test_a_client_follows_a_worker_joining_training_and_leaving_across_processes(server_home: Path) -> None:
    """Fleet mode: the events are raised in the worker's processes and reach the server's client
    through Redis; the metrics follow the same changes."""
    with ExitStack() as stack:
        db = stack.enter_context(fresh_database(server_home, postgres=postgres_url()))
        # Every scrape built afresh: the metrics are checked to follow each change as it happens.
        env = server_env(
            server_home, {"REDIS_URL": redis_url(), "NCRSH_HEARTBEAT_S": "1", "NCRSH_METRICS_CACHE_S": "0"} | db
        )
        server = stack.enter_context(live_server(env))
        token = server.login()
        client = stack.enter_context(
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        )
        with pytest.raises(InvalidStatus) as refused:
            connect(_ws(server.url), open_timeout=10)
        assert refused.value.response.status_code == 403

        feed = stack.enter_context(listening(_ws(server.url), subprotocols=["bearer", token]))
        assert feed.connection.subprotocol == "bearer"
        membership = stack.enter_context(listening(f"{_ws(server.url)}?token={token}&types=node_joined,node_left"))
        assert _gauge(client, "swarm_nodes_active") == [0]

        node_id = client.post("/api/v1/nodes", json={}).json()["id"]
        worker = stack.enter_context(worker_process(env, node_id))
        feed.wait_for("node_joined", lambda seen: bool(_of(seen, "node_joined", node_id=node_id)), timeout=120)
        assert _gauge(client, "swarm_nodes_active") == [1]

        started = client.post(
            "/api/v1/training/start",
            json={
                "dataset": "builtin:pystdlib",
                "model_config": {"preset": "tiny"},
                "nodes": [node_id],
                "batch_size": 8,
                "local_steps": 10,
                "max_steps": 60,
                "log_every": 5,
            },
        )
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]
        loss = poll(lambda: _gauge(client, "swarm_training_loss"), bool, timeout=120, what="a loss on /metrics")
        assert 0 < loss[0] < 10
        seen = feed.wait_for(
            "the end of the session", lambda s: bool(_of(s, "training_stopped", session_id=session_id)), timeout=180
        )
        assert _of(seen, "training_started", session_id=session_id)[0]["data"]["nodes"] == [node_id]
        progress = _of(seen, "training_progress", session_id=session_id)
        assert len(progress) >= 3
        assert {p["data"]["node_id"] for p in progress} == {node_id}
        assert [p["data"]["progress"]["step"] for p in progress] == sorted(
            p["data"]["progress"]["step"] for p in progress
        )
        assert _of(seen, "model_update", session_id=session_id)
        assert _of(seen, "training_stopped", session_id=session_id)[0]["data"]["status"] == "completed"
        # Every event raised across the processes is one the API's document describes.
        validator = event_validator(client.get("/api/v1/schema/?format=json").json())
        assert {e["type"] for e in seen} >= {"node_joined", "training_started", "training_progress", "model_update"}
        for event in seen:
            assert not list(validator.iter_errors(event)), event

        assert _gauge(client, "swarm_round_duration_seconds_count")[0] >= 1
        assert promtool_check(client.get("/metrics").content) == ""

        worker.terminate()
        worker.wait(timeout=60)
        left = membership.wait_for("node_left", lambda s: bool(_of(s, "node_left", node_id=node_id)), timeout=60)
        assert {e["type"] for e in left} == {"node_joined", "node_left"}  # the subscription's subset only
        assert _gauge(client, "swarm_nodes_active") == [0]


def test_embedded_training_streams_progress_votes_and_decisions(server_home: Path) -> None:
    """Embedded mode: the nodes are threads of the server and the channel layer is in memory."""
    env = server_env(server_home, {"NCRSH_LOCAL_NODES": "2"})
    with fresh_database(server_home) as db, live_server(env | db) as server:
        token = server.login()
        with listening(_ws(server.url), additional_headers={"Authorization": f"Bearer {token}"}) as feed:
            started = httpx.post(
                f"{server.url}/api/v1/training/start",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "dataset": "builtin:pystdlib",
                    "model_config": {"preset": "tiny"},
                    "batch_size": 8,
                    "local_steps": 5,
                    "max_steps": 30,
                    "log_every": 5,
                },
            )
            assert started.status_code == 201, started.text
            session_id = started.json()["session_id"]
            seen = feed.wait_for(
                "the end of the session",
                lambda s: bool(_of(s, "training_stopped", session_id=session_id)),
                timeout=180,
            )
        assert len(_of(seen, "training_progress", session_id=session_id)) >= 3
        votes = _of(seen, "consensus_vote", session_id=session_id)
        assert votes
        assert all(set(v["data"]) >= {"round_id", "proposal", "voter", "approve"} for v in votes)
        decisions = _of(seen, "consensus_decision", session_id=session_id)
        assert len(decisions) == len({d["data"]["round"] for d in decisions}) >= 3  # one per round
        assert len(_of(seen, "model_update", session_id=session_id)) == sum(d["data"]["committed"] for d in decisions)
