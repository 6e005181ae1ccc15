"""Send work to the nodes: a node its run, to the node's own queue (fleet) or to a thread of this
process (embedded); a dataset's preparation, likewise, to an alive node (an idle one first)."""

from __future__ import annotations

import threading

from django.conf import settings

from models_store.tasks import prepare_dataset
from ncrsh_site.errors import NodeNotFound
from nodes.models import ALIVE_STATUSES, Node, NodeStatus
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


def dispatch_prepare(name: str) -> None:
    if settings.EMBEDDED:
        threading.Thread(target=prepare_dataset.apply, args=((name,),), name=f"prepare:{name}", daemon=True).start()
        return
    alive = Node.objects.filter(status__in=ALIVE_STATUSES).order_by("id")
    node = alive.exclude(status=NodeStatus.TRAINING).first() or alive.first()
    if node is None:
        raise NodeNotFound("No active node to prepare the dataset on: start an `ncrsh worker`.")
    prepare_dataset.apply_async(args=(name,), queue=node.id)
