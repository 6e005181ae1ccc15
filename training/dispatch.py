"""Send a node its run: to the node's own queue (fleet), or to a thread of this process (embedded)."""

from __future__ import annotations

import threading

from django.conf import settings

from training.tasks import run_node


def dispatch_run(session_id: str, node_id: str) -> None:
    if settings.EMBEDDED:
        # The same task, executed here: the server process is the embedded swarm's worker.
        thread = threading.Thread(
            target=run_node.apply, kwargs={"args": (session_id, node_id)}, name=f"{node_id}:{session_id}", daemon=True
        )
        thread.start()
    else:
        run_node.apply_async(args=(session_id, node_id), queue=node_id)
