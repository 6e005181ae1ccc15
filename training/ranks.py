"""A node of several processes (``ncrsh worker --gpus 0,1`` or ``--nproc N``): its run is
trained by N ranks, one per device, on torch.distributed (NCCL on GPUs, gloo on CPUs), each
holding the model (DDP) or a shard of it (FSDP); engine.ranks and engine.sharding are how they
train as one member.

The process that claimed the run (the Celery task's) fixes where it starts (``RunStart``) and
runs the node's agent, ``python -m training.rank_agent``: torch's elastic launcher in a process
of its own (a Celery child is daemonic, and may not start processes through multiprocessing),
which starts the ranks (``rank_main``) and watches them. Rank 0, the lead, trains with the swarm
and records the end of the run, as a node of one process does. When the ranks end early, the
claiming process tells why (``RanksEnded``): the lead's own failure (it left its reason in the
job's verdict file) fails the run with that reason; any other, a rank that died, takes the
node out (runtime: the run goes offline, the worker exits with status 1 and rejoins once
restarted).

Imported by ``training.runtime`` when a run starts, never by the web process (torch).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import load_checkpoint
from engine.files import file_sha256
from engine.node import Resume
from engine.ranks import MONITOR_S

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunStart:
    """Where a node's run starts, fixed once by the process that claimed it (runtime.run_start)
    so that every rank of the node starts from the same place: the dataset's local files, the
    snapshot to resume from (path, committed rounds, inner step) and the session's initial
    checkpoint (path, sha256), if any."""

    dataset: Path
    resume: tuple[Path, int, int] | None
    initial: tuple[Path, str] | None

    @property
    def first_round(self) -> int:
        """The round the run starts at: the one after the snapshot's, else the first."""
        return self.resume[1] if self.resume is not None else 0

    def loaded_resume(self) -> Resume | None:
        if self.resume is None:
            return None
        path, rounds, step = self.resume
        return Resume(rounds=rounds, step=step, state=load_checkpoint(path, sha256=file_sha256(path)).tensors)

    def loaded_initial(self) -> dict[str, torch.Tensor] | None:
        if self.initial is None:
            return None
        path, sha256 = self.initial
        return load_checkpoint(path, sha256=sha256).tensors

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": str(self.dataset),
            "resume": [str(self.resume[0]), self.resume[1], self.resume[2]] if self.resume else None,
            "initial": [str(self.initial[0]), self.initial[1]] if self.initial else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunStart:
        resume, initial = data["resume"], data["initial"]
        return cls(
            dataset=Path(data["dataset"]),
            resume=(Path(resume[0]), int(resume[1]), int(resume[2])) if resume else None,
            initial=(Path(initial[0]), str(initial[1])) if initial else None,
        )


@dataclass(frozen=True)
class RankRun:
    """What the agent and each rank are given: whose run, under which claim, from where, on
    which devices (one per rank), and the file where the lead leaves the reason its run failed."""

    session_id: str
    node_id: str
    token: str
    start: RunStart
    devices: tuple[str, ...]
    sharded: bool = False  # FSDP, else DDP
    verdict: str = ""

    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "start": self.start.to_json()})

    @classmethod
    def from_json(cls, text: str) -> RankRun:
        data = json.loads(text)
        return cls(**{**data, "start": RunStart.from_json(data["start"]), "devices": tuple(data["devices"])})


@dataclass(frozen=True)
class RanksEnded:
    """Why a node's ranks ended early: ``lost``, a rank died (the node is out until its worker
    restarts); else the run failed of itself, for ``reason``."""

    lost: bool
    reason: str


# How long a failing lead waits before it says the run failed: time for the agent (which looks
# every MONITOR_S) to see that a peer died first, and stop the lead, when that is what failed.
PEER_GRACE_S = 10 * MONITOR_S


def launch_ranks(job: RankRun) -> RanksEnded | None:
    """Train the run in one rank per device (through the node's agent) and wait for them: None
    when they finished, else why they ended."""
    with tempfile.TemporaryDirectory(prefix="ncrsh-ranks-") as scratch:
        verdict, failure = Path(scratch) / "verdict", Path(scratch) / "failure.json"
        job = dataclasses.replace(job, verdict=str(verdict))
        agent = subprocess.run(  # noqa: S603 - this Python, this project's module, our own arguments
            [sys.executable, "-m", "training.rank_agent", job.to_json(), str(failure)], check=False
        )
        if agent.returncode == 0:
            return None
        if verdict.exists():
            return RanksEnded(lost=False, reason=verdict.read_text())
        if not failure.exists():
            return RanksEnded(lost=False, reason=f"the node's launcher exited with status {agent.returncode}")
        died = json.loads(failure.read_text())
    return RanksEnded(
        lost=True, reason=f"rank {died['rank']} of its {len(job.devices)} processes died (exit code {died['exitcode']})"
    )


def rank_main(job: RankRun) -> None:
    """One rank, in a process of its own (spawned by the agent: Django is set up afresh). The
    lead's failure, unless the agent stops it first (a peer died), is the run's: its reason is
    left in the job's verdict file."""
    import django

    django.setup()
    from django.db import close_old_connections

    from engine.ranks import Ranks
    from training.models import NodeRun, TrainingSession
    from training.runtime import failure_reason, follow_run, lead_run

    device = torch.device(job.devices[int(os.environ["LOCAL_RANK"])])
    ranks = Ranks.joined(device, sharded=job.sharded)
    print(
        f"ncrsh worker: node {job.node_id}, {job.session_id}: rank {ranks.rank} of {ranks.size} on {device}"
        f" ({'FSDP' if ranks.sharded else 'DDP'}), pid {os.getpid()}",
        flush=True,
    )
    session = TrainingSession.objects.select_related("initial_checkpoint").get(id=job.session_id)
    run = NodeRun.objects.get(session_id=job.session_id, node_id=job.node_id)
    if not ranks.lead:
        follow_run(session, run, job.start, device, ranks)
        return
    try:
        lead_run(session, run, job.token, job.start, device, ranks)
    except Exception as exc:
        logger.exception("run of %s in %s failed", job.node_id, job.session_id)
        time.sleep(PEER_GRACE_S)
        Path(job.verdict).write_text(failure_reason(exc))
        raise
    finally:
        close_old_connections()
