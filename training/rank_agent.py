"""The agent of a node of several processes: ``python -m training.rank_agent JOB FAILURE``.

It starts the node's ranks with torch's elastic launcher (``training.ranks.rank_main``, one per
device of the JOB, a ``training.ranks.RankRun`` in JSON) and waits for them. When a rank dies
the launcher stops the others; the agent then writes which one and how (``{"rank", "exitcode"}``)
to FAILURE and exits with status 3. It stops its ranks if the process that started it dies.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from training.ranks import MONITOR_S, RankRun, rank_main

RANK_DIED = 3


def _stop_when_orphaned(parent: int, every_s: float = 1.0) -> None:
    """Its parent gone (a killed worker), the agent stops itself and so its ranks: a node's
    ranks never train on for a worker that is no longer there."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os.kill(os.getpid(), signal.SIGTERM)  # the launcher's handler stops the ranks


def main(argv: list[str]) -> int:
    job, failure = RankRun.from_json(argv[0]), Path(argv[1])
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=len(job.devices),
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",  # a free port of this host: the ranks never leave it
        run_id=f"{job.session_id}-{job.node_id}",
        max_restarts=0,
        monitor_interval=MONITOR_S,
    )
    try:
        elastic_launch(config, rank_main)(job)
    except ChildFailedError as exc:
        rank, died = exc.get_first_failure()
        failure.write_text(json.dumps({"rank": rank, "exitcode": died.exitcode}))
        return RANK_DIED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
