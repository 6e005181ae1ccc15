"""Experiment tracking as Reporters (engine.node.Reporter): TensorBoard event files and Weights &
Biases runs, beside the control plane's own reporting (``Reporters`` fans one node's reports out
to several)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from engine.node import Reporter
from engine.rounds import RoundOutcome

# What a training log holds, as TensorBoard tags (MFU only where the device's peak is known).
SCALARS = {
    "loss": "train/loss",
    "bits_per_byte": "train/bits_per_byte",
    "accuracy": "train/accuracy",
    "tokens_per_s": "train/tokens_per_s",
    "mfu": "train/mfu",
    "round_overhead": "train/round_overhead",
    "lr": "train/lr",
}


class Reporters:
    """Every report to each of ``reporters``, in order."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for reporter in self.reporters:
            reporter.log(metrics, step)

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        for reporter in self.reporters:
            reporter.round(outcome, model_hash, state, step)


def round_scalars(outcome: RoundOutcome) -> dict[str, float]:
    """What a round adds to a node's series: its length, its traffic and its decision."""
    decision = outcome.decision
    return {
        "round/seconds": outcome.seconds,
        "round/bytes_sent": outcome.sent,
        "round/bytes_received": outcome.received,
        "round/accepted": len(decision.accepted),
        "round/rejected": len(decision.rejected),
        "round/approvals": sum(decision.approvals.values()),
        "round/rejections": sum(decision.rejections.values()),
        "round/committed": float(outcome.committed),
    }


def log_scalars(metrics: Mapping[str, float]) -> dict[str, float]:
    return {tag: metrics[key] for key, tag in SCALARS.items() if metrics.get(key) is not None}


class TensorBoardReporter:
    """One node's series in ``logdir`` (``tensorboard --logdir`` on the session's folder shows
    every node side by side): the training log's figures at their step, and per round its
    seconds, the bytes this node sent and received, and the proposals accepted and rejected."""

    def __init__(self, logdir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # the tensorboard package: opt-in

        self.writer: Any = SummaryWriter(log_dir=str(logdir))

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self._write(log_scalars(metrics), step)

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        self._write(round_scalars(outcome), step)

    def _write(self, scalars: Mapping[str, float], step: int) -> None:
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbReporter:
    """One Weights & Biases run per node, grouped by session, with the same series as
    TensorBoard's. wandb's own settings apply (WANDB_API_KEY, WANDB_MODE=offline: the run is
    written under ``directory`` and can be synced later)."""

    def __init__(self, *, project: str, session: str, node: str, directory: Path, config: Mapping[str, Any]) -> None:
        import wandb  # the wandb extra: opt-in

        directory.mkdir(parents=True, exist_ok=True)
        self.run: Any = wandb.init(
            project=project,
            group=session,
            name=f"{session}/{node}",
            dir=str(directory),
            config=dict(config),
            reinit="create_new",  # several nodes of one process (embedded) have a run each
        )

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.run.log(log_scalars(metrics), step=step)

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        self.run.log(round_scalars(outcome), step=step)

    def close(self) -> None:
        self.run.finish()
