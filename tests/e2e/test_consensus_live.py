"""The consensus ledger end to end on a real embedded server (3 local nodes): an operator's
votes decide rounds under require_operator_approval, and a straggler is left out of rounds
that still commit."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from nodes.services import stable_node_id
from tests.support.live import fresh_database, live_server, poll, server_env

pytestmark = pytest.mark.live
LOCAL = [stable_node_id(host=socket.gethostname(), device=f"local{i}") for i in range(3)]
QUICK = {"dataset": "builtin:pystdlib", "model_config": {"preset": "tiny"}, "batch_size": 8, "log_every": 5}


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _finished(client: httpx.Client, session_id: str, timeout: float = 180) -> dict[str, Any]:
    return dict(
        poll(
            lambda: client.get(f"/api/v1/training/sessions/{session_id}").json(),
            lambda s: s["status"] in ("completed", "failed", "stopped"),
            timeout=timeout,
            what=f"{session_id} to end",
        )
    )


def test_an_operator_vote_decides_a_round_under_required_approval(server_home: Path) -> None:
    env = server_env(server_home, {"NCRSH_LOCAL_NODES": "3"})
    with fresh_database(server_home) as db, live_server(env | db) as server, _client(server.url, server.login()) as api:
        started = api.post(
            "/api/v1/training/start",
            json={**QUICK, "local_steps": 5, "max_steps": 5, "deadline_s": 60, "require_operator_approval": True},
        )
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]
        status = poll(
            lambda: api.get("/api/v1/consensus/status").json(),
            lambda s: s["phase"] == "voting" and len(s["proposals"]) == 3,
            timeout=120,
            what="the round to wait for the operator",
        )
        assert status["require_operator_approval"] is True
        suspect = LOCAL[2]
        for proposal in status["proposals"]:
            approve = proposal["node_id"] != suspect
            voted = api.post(
                "/api/v1/consensus/vote",
                json={
                    "proposal_id": proposal["proposal_id"],
                    "approve": approve,
                    "reason": "" if approve else "held back",
                },
            )
            assert voted.status_code == 201, voted.text

        session = _finished(api, session_id)
        assert session["status"] == "completed", session["error"]
        decision = api.get("/api/v1/consensus/history", params={"session": session_id}).json()["decisions"][0]
        assert decision["committed"] is True
        assert decision["accepted"] == sorted(LOCAL[:2])
        assert decision["rejected"] == [suspect]
        held = next(p for p in decision["proposals"] if p["node_id"] == suspect)
        assert held["operator_votes"] == [{"voter": "operator:admin", "approve": False, "reason": "held back"}]
        assert held["outcome"] == "rejected"
        late = api.post("/api/v1/consensus/vote", json={"proposal_id": held["proposal_id"], "approve": True})
        assert (late.status_code, late.json()["error"]["message"]) == (409, "ROUND_CLOSED")


def test_a_straggler_past_the_deadline_is_left_out_and_the_rounds_commit(server_home: Path) -> None:
    straggler = LOCAL[2]
    env = server_env(server_home, {"NCRSH_LOCAL_NODES": "3", "NCRSH_FAULT_INJECTION": f"{straggler}=slow"})
    with fresh_database(server_home) as db, live_server(env | db) as server, _client(server.url, server.login()) as api:
        started = api.post("/api/v1/training/start", json={**QUICK, "local_steps": 5, "max_steps": 10, "deadline_s": 2})
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]
        session = _finished(api, session_id)
        assert session["status"] == "completed", session["error"]
        decisions = api.get("/api/v1/consensus/history", params={"session": session_id}).json()["decisions"]
        assert len(decisions) == 2
        for decision in decisions:
            assert decision["committed"] is True
            assert decision["accepted"] == sorted(LOCAL[:2])
            assert decision["missing"] == [straggler]  # the ledger says who was late
        # The straggler adopted each decision: it ends with the swarm's model.
        assert len(session["metrics"]["model_hashes"]) == 1
