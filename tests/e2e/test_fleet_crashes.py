"""kill -9 in fleet mode (issue 17): of the web process, and of every worker. The swarm is never
wedged: the session goes on or ends with its reason, and a new session starts within 60 s."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fleet import WIKITEXT, Fleet, running_fleet
from tests.support.live import live_server, poll

pytestmark = pytest.mark.live
SHORT = {**WIKITEXT, "strategy": "diloco", "learning_rate": 0.003, "local_steps": 10, "max_steps": 20}


@pytest.fixture
def fleet(server_home: Path) -> Iterator[Fleet]:
    with running_fleet(server_home, workers=2) as running:
        yield running


def _under_way(fleet: Fleet) -> dict[str, Any]:
    fleet.train(max_steps=100_000, local_steps=10, deadline_s=5)
    return poll(fleet.status, lambda s: s["progress"]["round"] >= 2, timeout=120, what="two rounds")


def test_a_killed_web_process_restarts_and_the_session_goes_on(fleet: Fleet) -> None:
    before = _under_way(fleet)
    os.kill(fleet.server.process.pid, signal.SIGKILL)
    fleet.server.process.wait()
    time.sleep(3)  # the workers train on without it
    with live_server(fleet.env) as server:
        back = time.monotonic()
        token = server.login()
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:

            def status() -> dict[str, Any]:
                return dict(client.get("/api/v1/training/status").json())

            going = poll(
                status,
                lambda s: s["status"] == "running" and s["progress"]["round"] > before["progress"]["round"],
                timeout=60,
                what="the session to go on past its rounds of before the crash",
            )
            assert going["session_id"] == before["session_id"]
            assert client.post("/api/v1/training/stop").status_code == 200
            poll(status, lambda s: s["status"] == "stopped", timeout=60, what="the stop")
            again = client.post("/api/v1/training/start", json=SHORT)
            assert again.status_code == 201, again.text
            assert time.monotonic() - back < 60


def test_when_every_worker_dies_the_session_ends_and_a_new_one_starts_when_they_return(fleet: Fleet) -> None:
    before = _under_way(fleet)
    for process in fleet.workers.values():
        os.killpg(process.pid, signal.SIGKILL)  # every host: main process and its child
    # No worker comes back for now: the session is not wedged, it ends with its reason.
    ended = poll(
        lambda: fleet.session(before["session_id"]),
        lambda s: s["status"] not in ("running", "stopping"),
        timeout=60,
        what="the session to end without its workers",
    )
    assert ended["status"] == "failed", ended
    # Each run is retired by whichever silence the sweep saw first: its node's or its own.
    reasons = {part.split(": ", 1)[1] for part in ended["error"].split("; ")}
    assert reasons <= {"node went offline", "its process stopped reporting"}, ended["error"]
    assert len(ended["error"].split("; ")) == 2
    for node_id in list(fleet.workers):
        fleet.start(node_id)
    back = time.monotonic()
    fleet.answering(list(fleet.workers))
    again = fleet.client.post("/api/v1/training/start", json=SHORT)
    assert again.status_code == 201, again.text
    assert time.monotonic() - back < 60
    assert fleet.finished(again.json()["session_id"], timeout=180)["status"] == "completed"
