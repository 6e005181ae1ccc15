"""Elastic membership in a fleet of real Celery workers on PostgreSQL and Redis: a worker that
comes up while a session runs joins it at a round boundary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.events import event_validator, listening
from tests.support.fleet import Fleet, running_fleet
from tests.support.live import poll

pytestmark = pytest.mark.live


@pytest.fixture
def fleet(server_home: Path) -> Iterator[Fleet]:
    with running_fleet(server_home, workers=2) as running:
        yield running


def test_a_third_worker_started_mid_session_joins_at_a_round_boundary_with_the_swarm_s_model(fleet: Fleet) -> None:
    founders = sorted(fleet.workers)
    ws = fleet.server.url.replace("http://", "ws://", 1) + f"/api/v1/ws?token={fleet.server.login()}&types=node_joined"
    with listening(ws) as feed:
        session_id = fleet.train(max_steps=120, local_steps=10, deadline_s=15)
        poll(fleet.status, lambda s: s["progress"]["round"] >= 2, timeout=180, what="two rounds")
        newcomer = fleet.client.post("/api/v1/nodes", json={}).json()["id"]
        fleet.start(newcomer)
        seen = feed.wait_for(
            "the newcomer admitted to the session",
            lambda events: any(e["data"].get("session_id") == session_id for e in events),
            timeout=120,
        )
    joined = next(e["data"] for e in seen if e["data"].get("session_id") == session_id)
    assert joined["node_id"] == newcomer
    assert joined["members"] == [*founders, newcomer]
    validator = event_validator(fleet.client.get("/api/v1/schema/?format=json").json())
    assert not list(validator.iter_errors(next(e for e in seen if e["data"] == joined)))

    session = fleet.finished(session_id, timeout=600)
    runs = {run["node"]: run for run in session["runs"]}
    assert session["status"] == "completed", [(r["node"], r["status"], r["error"]) for r in runs.values()]
    assert sorted(runs) == sorted([*founders, newcomer])
    assert all(run["status"] == "completed" for run in runs.values())
    assert len({run["metrics"]["model_hash"] for run in runs.values()}) == 1  # the newcomer ends with the swarm
    assert session["rounds"]["diverged"] == 0

    history = fleet.client.get(session["rounds"]["history"], params={"limit": 100}).json()["decisions"]
    rounds = sorted(history, key=lambda d: d["round"])
    assert len(rounds) == 12
    # The ledger: 2 members up to the round the newcomer was admitted at, 3 from it on; from
    # then on it proposed, and ended every round with the swarm's model.
    members = [d["members"] for d in rounds]
    first = joined["round"]
    assert 2 <= first < 12
    assert members == [founders] * first + [[*founders, newcomer]] * (12 - first)
    assert all(d["committed"] for d in rounds)
    after = rounds[first + 1 :]  # its first round may have waited on its start-up past the deadline
    assert after
    assert all(newcomer in d["accepted"] and newcomer in d["confirmed_by"] for d in after)
