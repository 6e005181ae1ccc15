"""A Redis restart mid-session in fleet mode (issue 17): on main at dabd97c every run died within
~80 ms of the outage, one run stayed 'training' with no process behind it, the session stayed
'running' for good (start: 409, stop: 'stopping' forever), and the sessions' end events were
lost. Here the fleet (daphne, two `ncrsh worker` processes, PostgreSQL) runs on a Redis of the
test's own, killed with the session under way and started again empty after 10 s, then 60 s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.events import listening
from tests.support.fleet import running_fleet
from tests.support.live import poll
from tests.support.services import own_redis

pytestmark = pytest.mark.live


@pytest.mark.parametrize("outage_s", [10, 60])
def test_a_fleet_session_outlives_a_redis_restart_and_the_swarm_stays_usable(
    server_home: Path, tmp_path: Path, outage_s: int
) -> None:
    with own_redis(tmp_path) as redis_server, running_fleet(server_home, workers=2, redis=redis_server.url) as fleet:
        ws = fleet.server.url.replace("http://", "ws://", 1) + f"/api/v1/ws?token={fleet.server.login()}"
        with listening(ws + "&types=training_stopped") as feed:
            session_id = fleet.train(max_steps=100_000, local_steps=10, deadline_s=5)
            before = poll(fleet.status, lambda s: s["progress"]["round"] >= 2, timeout=120, what="two rounds")
            redis_server.stop()
            time.sleep(outage_s)
            redis_server.start()
            back = time.monotonic()

            # Within 60 s of Redis returning: the session goes on past its rounds of before, or
            # it has ended with the reason.
            after = poll(
                fleet.status,
                lambda s: s["progress"]["round"] > before["progress"]["round"] + 1 or s["status"] == "failed",
                timeout=60,
                what="the session to go on (or fail with its reason) after Redis returned",
            )
            assert after["session_id"] == session_id
            print(f"after a {outage_s}s outage: {after['status']} at round {after['progress']['round']}", flush=True)
            if after["status"] == "failed":
                assert fleet.session(session_id)["error"], "a failed session names its reason"
            else:
                assert fleet.client.post("/api/v1/training/stop").status_code == 200
            ended = fleet.finished(session_id, timeout=max(5.0, 60 - (time.monotonic() - back)))
            assert ended["status"] in ("stopped", "failed"), ended
            again = fleet.client.post("/api/v1/training/start", json={"max_steps": 20} | _short())
            assert again.status_code == 201, again.text
            assert time.monotonic() - back < 60, "a new session could not start within 60 s of Redis returning"

            # The client connected before the outage hears the first session's end.
            feed.wait_for(
                "the first session's end",
                lambda seen: any(e["data"]["session_id"] == session_id for e in seen),
                timeout=30,
            )
        fleet.finished(again.json()["session_id"], timeout=180)


def _short() -> dict[str, object]:
    return {
        "dataset": "file:wikitext-2/valid.txt",
        "model_config": {"preset": "tiny"},
        "strategy": "diloco",
        "batch_size": 8,
        "local_steps": 10,
    }
