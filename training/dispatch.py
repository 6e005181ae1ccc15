"""Send work to the nodes: a node its run, to the node's own queue (fleet) or to a thread of this
process (embedded); a dataset's preparation, likewise, to an alive node (an idle one first)."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from models_store.tasks import prepare_dataset
from ncrsh_site.errors import NodeNotFound
from nodes.models import ALIVE_STATUSES, Node, NodeStatus
from training.models import NodeRun, RunStatus
from training.services import run_finish
from training.tasks import run_node

logger = logging.getLogger(__name__)


def dispatch_run(session_id: str, node_id: str) -> None:
    if settings.EMBEDDED:
        # The same task, executed here: the server process is the embedded swarm's worker.
        thread = threading.Thread(
            target=run_node.apply, kwargs={"args": (session_id, node_id)}, name=f"{node_id}:{session_id}", daemon=True
        )
        thread.start()
        return
    try:
        run_node.apply_async(args=(session_id, node_id), queue=node_id)
    except (KombuError, RedisError, OSError) as exc:
        # The broker is down: the run cannot reach its node. It fails with the reason (the
        # session ends when all its runs have), rather than waiting queued for good.
        logger.warning("run of %s in %s not dispatched: %s", node_id, session_id, exc)
        run = NodeRun.objects.get(session_id=session_id, node_id=node_id)
        run_finish(run_id=run.id, status=RunStatus.FAILED, metrics={}, error=f"the broker is unreachable: {exc}")


def dispatch_prepare(name: str) -> None:
    if settings.EMBEDDED:
        threading.Thread(target=prepare_dataset.apply, args=((name,),), name=f"prepare:{name}", daemon=True).start()
        return
    alive = Node.objects.filter(status__in=ALIVE_STATUSES).order_by("id")
    node = alive.exclude(status=NodeStatus.TRAINING).first() or alive.first()
    if node is None:
        raise NodeNotFound("No active node to prepare the dataset on: start an `ncrsh worker`.")
    prepare_dataset.apply_async(args=(name,), queue=node.id)
