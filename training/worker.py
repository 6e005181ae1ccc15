"""Bringing nodes up: an ``ncrsh worker`` process (fleet), or local nodes inside the server
(embedded). Both register, beat, and leave cleanly."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from django.conf import settings

from engine.identity import public_key_hex
from nodes.hardware import device_memory, gpus, host_memory
from nodes.heartbeat import Heartbeat
from nodes.identity import node_private_key
from nodes.services import node_leave, node_register, stable_node_id
from training.dispatch import dispatch_run
from training.services import runs_rejoin, sweep_due

logger = logging.getLogger(__name__)


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


def run_worker(*, node: str | None, device: str, loglevel: str = "INFO") -> None:
    """A fleet node: register, beat, consume the queue named after the node (one child process,
    which alone touches the GPU), and leave on a clean shutdown."""
    from ncrsh_site.celery import app

    host = socket.gethostname()
    node_id = node or stable_node_id(host=host, device=device)
    if device.startswith("cuda:"):
        # Only the child process initialises CUDA; it sees its one GPU as cuda:0.
        os.environ["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
    node_register(
        node_id=node_id,
        address=f"{host}/{device}",
        claim=node is not None,
        memory_total=device_memory(device),
        gpus=gpus(device),
        public_key=public_key_hex(node_private_key(node_id)),
    )
    rejoined = runs_rejoin(node_id=node_id, dispatch=dispatch_run)
    if rejoined:
        print(f"ncrsh worker: node {node_id} rejoins {', '.join(rejoined)}", flush=True)
    heartbeat = Heartbeat([node_id], sweep=sweep_due)
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
    print(f"ncrsh worker: node {node_id} on {host} ({device}), broker {settings.CELERY_BROKER_URL}", flush=True)
    try:
        app.Worker(**options).start()
    finally:
        heartbeat.stop()
        node_leave(node_id=node_id)
        print(f"ncrsh worker: node {node_id} left the swarm", flush=True)
