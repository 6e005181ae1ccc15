"""Experiment tracking as Reporters (engine.node.Reporter): TensorBoard event files, beside the
control plane's own reporting (``Reporters`` fans one node's reports out to several)."""

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


class TensorBoardReporter:
    """One node's series in ``logdir`` (``tensorboard --logdir`` on the session's folder shows
    every node side by side): the training log's figures at their step, and per round its
    seconds, the bytes this node sent and received, and the proposals accepted and rejected."""

    def __init__(self, logdir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # the tensorboard package: opt-in

        self.writer: Any = SummaryWriter(log_dir=str(logdir))

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for key, tag in SCALARS.items():
            if metrics.get(key) is not None:
                self.writer.add_scalar(tag, metrics[key], step)
        self.writer.flush()

    def round(
        self, outcome: RoundOutcome, model_hash: str, state: Callable[[], dict[str, torch.Tensor]], step: int
    ) -> None:
        decision = outcome.decision
        for tag, value in (
            ("round/seconds", outcome.seconds),
            ("round/bytes_sent", outcome.sent),
            ("round/bytes_received", outcome.received),
            ("round/accepted", len(decision.accepted)),
            ("round/rejected", len(decision.rejected)),
            ("round/approvals", sum(decision.approvals.values())),
            ("round/rejections", sum(decision.rejections.values())),
            ("round/committed", float(outcome.committed)),
        ):
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
