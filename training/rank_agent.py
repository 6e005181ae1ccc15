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
from torch.distributed.launcher.api import elastic_launch

from engine.ranks import launch_config
from training.ranks import RankRun, rank_main

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
    config = launch_config(len(job.devices), run_id=f"{job.session_id}-{job.node_id}")
    try:
        elastic_launch(config, rank_main)(job)
    except ChildFailedError as exc:
        rank, died = exc.get_first_failure()
        failure.write_text(json.dumps({"rank": rank, "exitcode": died.exitcode}))
        return RANK_DIED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
