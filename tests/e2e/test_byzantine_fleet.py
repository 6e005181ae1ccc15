"""A Byzantine worker in a fleet of four (real PostgreSQL, Redis and worker processes), made
faulty by the test-only NCRSH_FAULT_INJECTION: its updates scaled x1000, sign-flipped, or NaN.
It is outvoted, the ledger shows it, and the model is as good as an all-honest run's; without
voting, a plain mean lets the scaled updates wreck the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import Fleet, running_fleet

pytestmark = pytest.mark.live
COMMON = {"strategy": "cooperative_sgd", "local_steps": 10, "max_steps": 60, "deadline_s": 30}
ROBUST = {"aggregator": "trimmed_mean", "aggregator_f": 1}


def _session(fleet: Fleet, **settings: Any) -> dict[str, Any]:
    session = fleet.finished(fleet.train(**COMMON, **settings))
    assert session["status"] == "completed", session["error"]
    return session


def _turn(fleet: Fleet, node_id: str, fault: str) -> None:
    """Restart the node's worker with the fault injected."""
    fleet.stop(node_id)
    fleet.start(node_id, NCRSH_FAULT_INJECTION=f"{node_id}={fault}")
    fleet.answering([node_id])


def test_a_byzantine_worker_is_outvoted_and_the_model_stays_as_good_as_an_honest_runs(server_home: Path) -> None:
    with running_fleet(server_home, workers=4) as fleet:
        honest = _session(fleet, **ROBUST)
        byzantine = sorted(fleet.workers)[-1]
        attacked: dict[str, dict[str, Any]] = {}
        for fault in ("scale", "sign_flip", "nan"):
            _turn(fleet, byzantine, fault)
            attacked[fault] = _session(fleet, **ROBUST)
            if fault == "scale":
                control = _session(fleet, aggregator="mean", voting=False)
        histories = {
            fault: fleet.client.get("/api/v1/consensus/history", params={"session": s["id"]}).json()
            for fault, s in attacked.items()
        }

    for fault, reason in (("scale", "norm"), ("nan", "non-finite")):
        assert histories[fault]["total"] == 6
        for decision in histories[fault]["decisions"]:
            assert decision["committed"] is True
            assert decision["rejected"] == [byzantine]
            assert decision["votes"][byzantine]["reject"] >= 3  # every honest node voted it down
            assert any(reason in why for why in decision["reasons"][byzantine])
    # A flipped update can look harmless to the probes late in training; trimming drops it anyway.
    flipped = histories["sign_flip"]["decisions"]
    assert all(d["committed"] for d in flipped), [
        (d["round"], d["committed"], d["reason"], d["reasons"]) for d in flipped
    ]

    honest_loss = honest["metrics"]["val_loss"]
    for fault, session in attacked.items():
        assert session["metrics"]["val_loss"] <= honest_loss * 1.05, (fault, honest_loss, session["metrics"])
    assert control["metrics"]["val_loss"] > honest_loss * 1.5, (honest_loss, control["metrics"])
