"""A Byzantine worker in a fleet of four (real PostgreSQL, Redis and worker processes): made
faulty by the test-only NCRSH_FAULT_INJECTION (its updates scaled x1000), it is outvoted every
round, the ledger shows it, and the model is as good as an all-honest run's; without voting, a
plain mean lets it wreck the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fleet import running_fleet

pytestmark = pytest.mark.live
COMMON = {"strategy": "cooperative_sgd", "local_steps": 10, "max_steps": 60, "deadline_s": 30}
ROBUST = {"aggregator": "trimmed_mean", "aggregator_f": 1}


def test_a_byzantine_worker_is_outvoted_and_the_model_stays_as_good_as_an_honest_runs(server_home: Path) -> None:
    with running_fleet(server_home, workers=4) as fleet:
        honest = fleet.finished(fleet.train(**COMMON, **ROBUST))
        assert honest["status"] == "completed", honest["error"]

        byzantine = sorted(fleet.workers)[-1]
        fleet.stop(byzantine)
        fleet.start(byzantine, NCRSH_FAULT_INJECTION=f"{byzantine}=scale")
        fleet.answering([byzantine])
        attacked = fleet.finished(fleet.train(**COMMON, **ROBUST))
        assert attacked["status"] == "completed", attacked["error"]
        control = fleet.finished(fleet.train(**COMMON, aggregator="mean", voting=False))
        assert control["status"] == "completed", control["error"]

        history = fleet.client.get("/api/v1/consensus/history", params={"session": attacked["id"]}).json()
        assert history["total"] == 6
        for decision in history["decisions"]:
            assert decision["committed"] is True
            assert byzantine in decision["rejected"]
            assert decision["votes"][byzantine]["reject"] >= 3  # every honest node voted it down
            assert any("norm" in reason for reason in decision["reasons"][byzantine])
            assert len(decision["accepted"]) == 3

    honest_loss, attacked_loss, control_loss = (s["metrics"]["val_loss"] for s in (honest, attacked, control))
    assert attacked_loss <= honest_loss * 1.05, (honest_loss, attacked_loss)
    assert control_loss > honest_loss * 1.5, (honest_loss, control_loss)
