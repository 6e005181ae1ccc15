"""The fleet: a daphne server and three `ncrsh worker` processes on real PostgreSQL and Redis,
training the tiny model on wikitext-2 with DiLoCo; then one worker is killed mid-session and
restarted."""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import WIKITEXT, Fleet, running_fleet
from tests.support.live import poll

pytestmark = pytest.mark.live


@pytest.fixture
def fleet(server_home: Path) -> Iterator[Fleet]:
    with running_fleet(server_home, workers=3) as running:
        yield running


def test_three_workers_train_with_diloco_and_the_model_verifies(fleet: Fleet) -> None:
    discovered = fleet.client.post("/api/v1/network/discover").json()
    assert sorted(discovered["updated"]) == sorted(fleet.workers)
    assert discovered["lost"] == []

    # A worker prepares the dataset (POST /api/v1/datasets goes to a node's queue), then the
    # session names it.
    asked = fleet.client.post("/api/v1/datasets", json={"name": "wiki", "source": WIKITEXT["dataset"]})
    assert asked.status_code == 202, asked.text
    wiki = poll(
        lambda: fleet.client.get("/api/v1/datasets/wiki").json(),
        lambda d: d["status"] != "preparing",
        timeout=120,
        what="the dataset",
    )
    assert wiki["status"] == "ready", wiki
    assert wiki["train_tokens"] > 900_000
    session_id = fleet.train(dataset="wiki")
    session = fleet.finished(session_id)
    assert session["status"] == "completed", session
    assert session["metrics"]["val_loss"] < 4.0  # from ln(256) = 5.55 at initialisation
    assert (session["rounds"]["decided"], session["rounds"]["diverged"]) == (6, 0)
    members = sorted(run["node"] for run in session["runs"])
    for decision in _ledger(fleet, session):
        assert decision["confirmed_by"] == members, "some node did not report the swarm's model after a round"

    model_id = session["final_model"]
    model = next(m for m in fleet.client.get("/api/v1/models").json()["models"] if m["id"] == model_id)
    download = fleet.client.get(f"/api/v1/models/{model_id}/download")
    assert hashlib.sha256(download.content).hexdigest() == model["sha256"]


def test_a_killed_worker_goes_offline_the_others_go_on_and_it_rejoins(fleet: Fleet) -> None:
    session_id = fleet.train(max_steps=400, local_steps=20, deadline_s=3)
    poll(fleet.status, lambda s: s["progress"]["round"] >= 2, timeout=120, what="two rounds")
    victim = sorted(fleet.workers)[-1]
    os.killpg(fleet.workers[victim].pid, signal.SIGKILL)  # the host dies: main process and its child

    poll(
        lambda: fleet.client.get(f"/api/v1/nodes/{victim}").json(),
        lambda n: n["status"] == "offline",
        timeout=60,
        what="the killed node to turn offline",
    )
    # Its run leaves the session at a later sweep: once it too has been silent for
    # NCRSH_OFFLINE_AFTER_S (its last report may postdate the node's last heartbeat).
    poll(
        lambda: {run["node"]: run for run in fleet.session(session_id)["runs"]},
        lambda runs: runs[victim]["status"] == "offline",
        timeout=30,
        what="the killed node's run to turn offline",
    )
    rounds_without = fleet.status()["progress"]["round"]

    fleet.start(victim)  # the host comes back: the worker takes its run up again
    session = fleet.finished(session_id, timeout=600)
    assert session["status"] == "completed", [(r["node"], r["status"], r["error"]) for r in session["runs"]]
    runs = {run["node"]: run for run in session["runs"]}
    assert all(run["status"] == "completed" for run in runs.values())
    assert len({run["metrics"]["model_hash"] for run in runs.values()}) == 1  # the rejoined node too
    # It resumed where the swarm was: after the rounds it missed, it ended every round with the
    # swarm's model, to the last one.
    assert session["rounds"]["diverged"] == 0
    ledger = sorted(_ledger(fleet, session), key=lambda d: d["round"])
    assert all({node for node in runs if node != victim} <= set(d["confirmed_by"]) for d in ledger)
    with_it = [victim in d["confirmed_by"] for d in ledger]
    missed = with_it.index(False)
    assert with_it[missed:] == sorted(with_it[missed:]), f"its rounds: {with_it}"
    assert with_it[-1], f"its rounds: {with_it}"
    assert rounds_without >= 2


def _ledger(fleet: Fleet, session: dict[str, Any]) -> list[dict[str, Any]]:
    """The session's decisions, from the link its detail gives."""
    history = fleet.client.get(session["rounds"]["history"], params={"limit": 1000}).json()
    assert history["total"] == len(history["decisions"]) == session["rounds"]["decided"]
    return list(history["decisions"])
