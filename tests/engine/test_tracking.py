"""Tracking reporters (issue 15): Weights & Biases offline, as a node reports (the TensorBoard one
is read back from a live session in tests/ncrsh_swarm/test_cli_live.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.tracking import Reporters, WandbReporter


def test_wandb_offline_runs_hold_each_nodes_series(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")  # no account, no network
    monkeypatch.setenv("WANDB_SILENT", "true")
    runs = {
        node: WandbReporter(project="ncrsh-test", session="training_x", node=node, directory=tmp_path / node, config={})
        for node in ("node_a", "node_b")
    }
    both = Reporters(*runs.values())
    for step in range(1, 6):
        both.log({"loss": 5.0 - step / 10, "tokens_per_s": 1000.0, "mfu": None}, step)  # type: ignore[dict-item]
    for run in runs.values():
        run.close()
    for node in runs:
        (record,) = (tmp_path / node / "wandb").glob("offline-run-*/run-*.wandb")
        data = record.read_bytes()
        # The run's transaction log (protobuf): a history row per report (and its summary), the
        # tags as in TensorBoard, every value as JSON.
        assert data.count(b"train/loss") >= 5
        assert data.count(b"train/tokens_per_s") >= 5
        assert b"train/mfu" not in data  # an unknown MFU is not logged
        assert all(f"{5.0 - step / 10}".encode() in data for step in range(1, 6))
