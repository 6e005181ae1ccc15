"""Nodes of several processes (``ncrsh worker --nproc 2``: two ranks on gloo, one swarm member)
in a fleet of real Celery workers on PostgreSQL and Redis."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load as load_safetensors

from tests.support.fleet import Fleet, running_fleet
from tests.support.live import poll

pytestmark = pytest.mark.live
TWO_RANKS = ("--nproc", "2")
SESSION = {"max_steps": 30, "local_steps": 10, "batch_size": 8}


@pytest.fixture
def fleet(server_home: Path, request: pytest.FixtureRequest) -> Iterator[Fleet]:
    """Two workers of two CPU processes each (DDP; with a parameter, these worker arguments)."""
    with running_fleet(server_home, workers=2, worker_args=getattr(request, "param", TWO_RANKS)) as running:
        yield running


def _final_model(fleet: Fleet, session: dict[str, Any]) -> dict[str, torch.Tensor]:
    download = fleet.client.get(f"/api/v1/models/{session['final_model']}/download")
    assert download.status_code == 200, download.text
    return load_safetensors(download.content)


def _completed(fleet: Fleet, session_id: str, timeout: float = 300) -> dict[str, Any]:
    """The session, completed by every node with the same model after every round."""
    session = fleet.finished(session_id, timeout=timeout)
    runs = {run["node"]: run for run in session["runs"]}
    assert session["status"] == "completed", [(r["node"], r["status"], r["error"]) for r in runs.values()]
    assert all(run["status"] == "completed" for run in runs.values())
    assert len({run["metrics"]["model_hash"] for run in runs.values()}) == 1
    assert session["rounds"]["diverged"] == 0
    return session


def _rank_pid(fleet: Fleet, node_id: str, session_id: str, rank: int, mode: str = "DDP") -> int:
    log = (Path(fleet.env["NCRSH_HOME"]) / f"worker-{node_id}.log").read_text()
    found = re.findall(rf"node {node_id}, {session_id}: rank {rank} of 2 on cpu \({mode}\), pid (\d+)", log)
    assert found, f"no rank {rank} of {node_id} in its log"
    return int(found[-1])


@pytest.mark.parametrize(
    ("fleet", "mode"), [(TWO_RANKS, "DDP"), ((*TWO_RANKS, "--fsdp"), "FSDP")], ids=["ddp", "fsdp"], indirect=["fleet"]
)
def test_two_nodes_of_two_processes_train_as_one_process_each_on_the_whole_batch(fleet: Fleet, mode: str) -> None:
    session_id = fleet.train(**SESSION)
    two = _completed(fleet, session_id)
    history = fleet.client.get(two["rounds"]["history"], params={"limit": 100}).json()["decisions"]
    assert len(history) == 3
    assert all(decision["confirmed_by"] == sorted(fleet.workers) for decision in history)
    for node_id in sorted(fleet.workers):
        assert _rank_pid(fleet, node_id, session_id, 1, mode)  # it did train in two processes, so

    for node_id in sorted(fleet.workers):  # the same nodes, now of one process each
        fleet.stop(node_id)
        fleet.start(node_id)
    fleet.answering(sorted(fleet.workers))
    one = _completed(fleet, fleet.train(**SESSION))

    assert two["metrics"]["val_loss"] == pytest.approx(one["metrics"]["val_loss"], rel=1e-5)
    split, whole = _final_model(fleet, two), _final_model(fleet, one)
    for name, tensor in whole.items():
        # Float noise only (5e-6 at most when this was written, after 30 AdamW steps).
        torch.testing.assert_close(split[name], tensor, rtol=0, atol=1e-4, msg=name)


def test_a_killed_rank_takes_its_node_out_the_swarm_goes_on_and_the_restarted_worker_rejoins(fleet: Fleet) -> None:
    session_id = fleet.train(max_steps=300, local_steps=20, deadline_s=3)
    poll(fleet.status, lambda s: s["progress"]["round"] >= 2, timeout=180, what="two rounds")
    victim = sorted(fleet.workers)[-1]
    worker = fleet.workers[victim]
    os.kill(_rank_pid(fleet, victim, session_id, 1), signal.SIGKILL)

    # Its run goes offline with the reason, and the worker leaves the swarm, exiting with 1.
    assert worker.wait(timeout=90) == 1
    runs = {run["node"]: run for run in fleet.session(session_id)["runs"]}
    assert runs[victim]["status"] == "offline"
    assert runs[victim]["error"] == "rank 1 of its 2 processes died (exit code -9)"
    assert fleet.client.get(f"/api/v1/nodes/{victim}").json()["status"] == "left"
    at_kill = fleet.status()["progress"]["round"]
    poll(fleet.status, lambda s: s["progress"]["round"] >= at_kill + 2, timeout=180, what="rounds without it")

    fleet.start(victim, *TWO_RANKS)  # its supervisor restarts it: it rejoins the run
    session = _completed(fleet, session_id, timeout=600)
    history = fleet.client.get(session["rounds"]["history"], params={"limit": 1000}).json()["decisions"]
    assert victim in max(history, key=lambda d: d["round"])["confirmed_by"]


def test_a_run_that_fails_of_itself_fails_with_its_reason_and_the_workers_stay(fleet: Fleet) -> None:
    # No operator approves: no round commits, and the lead fails the run when its steps are done.
    session_id = fleet.train(max_steps=20, local_steps=10, deadline_s=2, require_operator_approval=True)
    session = fleet.finished(session_id)
    assert session["status"] == "failed"
    for run in session["runs"]:
        assert run["status"] == "failed"
        assert "none of 2 rounds committed" in run["error"], run["error"]
    assert all(worker.poll() is None for worker in fleet.workers.values())  # a failed run is not a lost rank
    assert {fleet.client.get(f"/api/v1/nodes/{n}").json()["status"] for n in fleet.workers} == {"active"}
