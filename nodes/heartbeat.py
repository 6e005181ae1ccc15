"""A node's pulse: last_seen and performance every NCRSH_HEARTBEAT_S, and the sweep that turns
silent nodes offline (every beating process sweeps, so no scheduler is needed)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from nodes.services import node_heartbeat

logger = logging.getLogger(__name__)


def _memory_usage() -> float | None:
    """Resident memory of this process as a fraction of the host's."""
    try:
        with open("/proc/self/statm") as statm:
            resident_pages = int(statm.read().split()[1])
        return resident_pages / os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, IndexError):
        return None


def _control_plane_latency_ms() -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return (time.perf_counter() - started) * 1000


class Heartbeat(threading.Thread):
    """``gpus``: what the beat reports of the nodes' GPUs (a worker's: nodes.hardware.gpus)."""

    def __init__(
        self,
        node_ids: list[str],
        *,
        sweep: Callable[[], object],
        gpus: Callable[[], list[dict[str, Any]]] = list,
    ) -> None:
        super().__init__(name="ncrsh-heartbeat", daemon=True)
        self.node_ids, self.sweep, self.gpus = list(node_ids), sweep, gpus
        self.stopped = threading.Event()

    def beat(self) -> None:
        performance = {"memory_usage": _memory_usage(), "network_latency": _control_plane_latency_ms()}
        gpus = self.gpus()
        for node_id in self.node_ids:
            node_heartbeat(node_id=node_id, performance=performance, gpus=gpus)
        self.sweep()

    def run(self) -> None:
        while not self.stopped.wait(settings.HEARTBEAT_S):
            try:
                self.beat()
            except Exception:
                logger.warning("heartbeat failed", exc_info=True)
            finally:
                close_old_connections()

    def stop(self) -> None:
        self.stopped.set()
