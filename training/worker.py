"""Bringing nodes up: an ``ncrsh worker`` process (fleet), or local nodes inside the server
(embedded). Both register, beat, and leave cleanly."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from engine.identity import public_key_hex
from nodes.hardware import gpus, host_memory
from nodes.heartbeat import Heartbeat
from nodes.identity import node_private_key
from nodes.services import node_leave, node_register, stable_node_id
from training.dispatch import dispatch_run
from training.membership import session_admit
from training.services import runs_rejoin, sweep_due

logger = logging.getLogger(__name__)

# Set by `ncrsh worker` for its Celery child: the node's devices, one per rank ("cuda:0,cuda:1",
# "cpu,cpu"), and the file where a child that lost a rank says why the worker must exit.
DEVICES_ENV = "NCRSH_NODE_DEVICES"
FSDP_ENV = "NCRSH_NODE_FSDP"
EXIT_REASON_ENV = "NCRSH_WORKER_EXIT_REASON"


def worker_devices() -> list[str]:
    """This worker's devices, one per rank, as `ncrsh worker` set them (none: not under it)."""
    named = os.environ.get(DEVICES_ENV, "")
    return named.split(",") if named else []


def worker_fsdp() -> bool:
    """Whether `ncrsh worker --fsdp` asked for every model to be sharded over its ranks."""
    return os.environ.get(FSDP_ENV) == "1"


def worker_exit(reason: str) -> None:
    """From the Celery child: ask the worker (its parent) for a warm shutdown, with the reason
    it prints as it exits with status 1 (so that a supervisor restarts it)."""
    path = os.environ.get(EXIT_REASON_ENV)
    if not path:
        return  # not under `ncrsh worker` (the task body run in-process): nothing to stop
    Path(path).write_text(reason)
    os.kill(os.getppid(), signal.SIGTERM)


def start_local_nodes(count: int) -> Heartbeat:
    """The server's own beat: ``count`` nodes served by this process's threads (embedded; ids
    stable per host), and the sweep on a schedule of its own, so that silent nodes and runs
    leave their sessions even when no worker is left to sweep (fleet: every worker gone)."""
    if count == 0:
        sweeper = Heartbeat([], sweep=sweep_due)
        sweeper.start()
        return sweeper
    host = socket.gethostname()
    node_ids = [stable_node_id(host=host, device=f"local{i}") for i in range(count)]
    ram = host_memory()
    for node_id, i in zip(node_ids, range(count), strict=True):
        # They share this host's memory with each other and with the server itself.
        node_register(
            node_id=node_id,
            address=f"{host}/local{i}",
            memory_total=ram // count if ram else None,
            public_key=public_key_hex(node_private_key(node_id)),
        )
        # This process is their only worker: whatever they were running died with the last one.
        rejoined = runs_rejoin(node_id=node_id, dispatch=dispatch_run)
        if rejoined:
            logger.warning("local node %s resumes %s after a restart", node_id, ", ".join(rejoined))
    heartbeat = Heartbeat(node_ids, sweep=sweep_due)
    heartbeat.start()
    logger.info("local nodes up: %s", ", ".join(node_ids))
    return heartbeat


@dataclass(frozen=True)
class WorkerDevices:
    """What one ``ncrsh worker`` trains on: one device, or several ranks of one node (GPUs, or
    CPU processes). ``label`` names them in the node's id and address; ``ranks``: each rank's
    device as the Celery child sees it; ``visible``: the GPUs the child may see
    (CUDA_VISIBLE_DEVICES); ``physical``: the devices as the host numbers them."""

    label: str
    ranks: tuple[str, ...]
    visible: str | None
    physical: tuple[str, ...]
    fsdp: bool = False  # shard every model over the ranks (else only one too large for one GPU)

    @classmethod
    def parse(
        cls, *, device: str = "cpu", gpus: str | None = None, nproc: int | None = None, fsdp: bool = False
    ) -> WorkerDevices:
        """From the worker's options; ValueError with what to change."""
        parsed = cls._parse(device=device, gpus=gpus, nproc=nproc)
        if fsdp and len(parsed.ranks) < 2:
            raise ValueError("--fsdp shards the model over the node's processes: give it --gpus 0,1,... or --nproc 2+")
        return dataclasses.replace(parsed, fsdp=fsdp)

    @classmethod
    def _parse(cls, *, device: str, gpus: str | None, nproc: int | None) -> WorkerDevices:
        if gpus is not None:
            if nproc is not None or device != "cpu":
                raise ValueError("--gpus names the node's devices: give it without --device or --nproc")
            indexes = [i.strip() for i in gpus.split(",")]
            if not all(i.isdigit() for i in indexes) or len(set(indexes)) != len(indexes):
                raise ValueError(f"--gpus takes distinct GPU indexes, e.g. 0,1,2,3; got {gpus!r}")
            visible = ",".join(indexes)
            return cls(
                f"cuda:{visible}",
                tuple(f"cuda:{i}" for i in range(len(indexes))),
                visible,
                tuple(f"cuda:{i}" for i in indexes),
            )
        if nproc is not None:
            if nproc < 1 or device != "cpu":
                raise ValueError("--nproc starts N CPU processes (N >= 1); for GPUs use --gpus 0,1,...")
            return cls("cpu" if nproc == 1 else f"cpu*{nproc}", ("cpu",) * nproc, None, ("cpu",))
        if device.startswith("cuda:"):
            # Only the child process initialises CUDA; it sees its one GPU as cuda:0.
            return cls(device, ("cuda:0",), device.split(":", 1)[1], (device,))
        if device != "cpu":
            raise ValueError(f"--device is cpu or cuda:N, got {device!r}")
        return cls("cpu", ("cpu",), None, ("cpu",))

    def gpus(self) -> list[dict[str, Any]]:
        """Its GPUs as nvidia-smi describes them now (none on CPUs)."""
        return gpus(*self.physical)

    def memory(self) -> int | None:
        """What a session may plan to use on this node: its GPUs' memory together (a model too
        large for one of them is sharded over them, FSDP), or the host's for CPU ranks, of which
        each holds a whole replica (DDP) unless --fsdp. None when it cannot be told."""
        if self.visible is not None:
            found = self.gpus()
            return sum(gpu["memory_total"] for gpu in found) if len(found) == len(self.physical) else None
        host = host_memory()
        if host is None:
            return None
        return host if self.fsdp else host // len(self.ranks)


def run_worker(*, node: str | None, devices: WorkerDevices, loglevel: str = "INFO") -> None:
    """A fleet node: register, beat, consume the queue named after the node (one child process,
    which alone touches the GPUs: it trains each run itself, or launches the node's ranks), and
    leave on a clean shutdown. Exits with status 1 when a rank died (its run went offline):
    restarted, the worker rejoins the run."""
    from ncrsh_site.celery import app

    host = socket.gethostname()
    node_id = node or stable_node_id(host=host, device=devices.label)
    if devices.visible is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices.visible
    os.environ[DEVICES_ENV] = ",".join(devices.ranks)
    os.environ[FSDP_ENV] = "1" if devices.fsdp else ""
    node_register(
        node_id=node_id,
        address=f"{host}/{devices.label}",
        claim=node is not None,
        memory_total=devices.memory(),
        gpus=devices.gpus(),
        public_key=public_key_hex(node_private_key(node_id)),
    )
    rejoined = runs_rejoin(node_id=node_id, dispatch=dispatch_run)
    if rejoined:
        print(f"ncrsh worker: node {node_id} rejoins {', '.join(rejoined)}", flush=True)
    joined = session_admit(node_id=node_id, dispatch=dispatch_run)
    if joined:
        print(f"ncrsh worker: node {node_id} joins {joined} at a round boundary", flush=True)
    heartbeat = Heartbeat([node_id], sweep=sweep_due, gpus=devices.gpus)
    heartbeat.start()
    options: dict[str, Any] = {
        "hostname": f"{node_id}@{host}",
        "queues": [node_id],
        "concurrency": 1,
        "pool": "prefork",
        "loglevel": loglevel,
        "without_mingle": True,
        "without_gossip": True,
    }
    shown = devices.label if len(devices.ranks) == 1 else f"{devices.label}: {len(devices.ranks)} processes"
    shown += ", FSDP" if devices.fsdp else ""
    print(f"ncrsh worker: node {node_id} on {host} ({shown}), broker {settings.CELERY_BROKER_URL}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ncrsh-worker-") as scratch:
        exit_reason = Path(scratch) / "exit-reason"
        os.environ[EXIT_REASON_ENV] = str(exit_reason)
        try:
            app.Worker(**options).start()
        finally:
            heartbeat.stop()
            node_leave(node_id=node_id)
            print(f"ncrsh worker: node {node_id} left the swarm", flush=True)
        if exit_reason.exists():
            raise SystemExit(f"ncrsh worker: {exit_reason.read_text()}; restart the worker to rejoin")
