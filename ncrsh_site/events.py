"""The swarm's event feed: ``publish(type, data)`` from any process, delivered to every WebSocket
client subscribed through the channel layer (in-memory embedded, Redis pub/sub in the fleet).

Wire format: ``{"type": "node_joined", "data": {...}, "timestamp": "2026-11-26T07:05:19.123Z"}``.

Where the coroutine runs matters. The in-memory layer's queues belong to the event loop of the
server that holds the WebSocket connections, and a Redis layer keeps one connection pool per
loop. So a process publishes on one long-lived loop: the server's own once a client connected
(``bind_loop``), otherwise a background thread's (workers, shells). Celery's prefork children
get theirs after the fork. Each loop sends its events in order through an outbox that retries
one that fails (a Redis outage) on fresh connections; a sync caller waits (briefly) until its
event is handed over, so none is lost when a worker exits right after ``node_left``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

GROUP = "swarm.events"
# Message type of the channel layer; the consumer's handler is ``swarm_event``.
MESSAGE_TYPE = "swarm.event"
EVENT_TYPES = (
    "node_joined",
    "node_left",
    "training_started",
    "training_progress",
    "training_stopped",
    "consensus_vote",
    "consensus_decision",
    "model_update",
    "dataset_progress",
    "dataset_prepared",
)
HANDOVER_TIMEOUT_S = 2.0  # a training loop waits at most this long on a broken channel layer
OUTAGE_RETRY_S = 120.0  # an event undelivered (Redis down) is retried this long, in order

_lock = threading.Lock()
_bound: asyncio.AbstractEventLoop | None = None
_background: tuple[int, asyncio.AbstractEventLoop] | None = None  # (pid, loop)
_pending: set[asyncio.Task[None]] = set()


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(type_: str, data: Mapping[str, Any]) -> dict[str, Any]:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}; known: {', '.join(EVENT_TYPES)}")
    return {"type": type_, "data": dict(data), "timestamp": timestamp()}


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The server's loop, which holds the connections: publish there from now on."""
    global _bound
    with _lock:
        _bound = loop


def _loop() -> asyncio.AbstractEventLoop:
    global _background
    with _lock:
        if _bound is not None and _bound.is_running():
            return _bound
        if _background is None or _background[0] != os.getpid():  # none yet, or inherited by a fork
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="ncrsh-events", daemon=True).start()
            _background = (os.getpid(), loop)
        return _background[1]


async def _send(message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        # Serialised once here, not once per connected client.
        text = json.dumps(message, cls=DjangoJSONEncoder)
        await layer.group_send(GROUP, {"type": MESSAGE_TYPE, "event_type": message["type"], "text": text})


def _spawn(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, None]) -> None:
    task = loop.create_task(coroutine)
    _pending.add(task)  # a reference until done, or the task may be collected mid-flight
    task.add_done_callback(_done)


def _done(task: asyncio.Task[None]) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("event not delivered: %s", task.exception())


class _Outbox:
    """A loop's events, sent one at a time in order. One that fails (the channel layer's Redis
    is down or restarting) is tried again on a fresh connection, backing off, for up to
    ``OUTAGE_RETRY_S``; the events after it wait their turn, so the feed resumes in order when
    Redis is back. ``healthy``: the last send went through (publishers wait for theirs only then:
    in an outage a training loop must not wait on each event)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: asyncio.Queue[tuple[dict[str, Any], Future[None]]] = asyncio.Queue()
        self.healthy = True
        _spawn(loop, self.drain())

    def put(self, message: dict[str, Any]) -> Future[None]:
        sent: Future[None] = Future()
        self.queue.put_nowait((message, sent))
        return sent

    async def drain(self) -> None:
        while True:
            message, sent = await self.queue.get()
            deadline, delay = time.monotonic() + OUTAGE_RETRY_S, 0.1
            while True:
                try:
                    await _send(message)
                    self.healthy = True
                    break
                except Exception as exc:  # noqa: BLE001 - any layer failure (Redis down, ...) is retried, then logged
                    if self.healthy:
                        logger.warning("event %s not delivered (%s): retrying", message["type"], exc)
                    self.healthy = False
                    if time.monotonic() + delay > deadline:
                        logger.warning("event %s dropped after %.0fs of retries", message["type"], OUTAGE_RETRY_S)
                        break
                    await asyncio.sleep(delay)  # redis-py drops a broken connection: the next try opens one
                    delay = min(2 * delay, 2.0)
            if not sent.done():
                sent.set_result(None)


_outboxes: dict[asyncio.AbstractEventLoop, _Outbox] = {}


def _enqueue(loop: asyncio.AbstractEventLoop, message: dict[str, Any]) -> tuple[_Outbox, Future[None]]:
    """On ``loop``: its outbox (made on first use), and the future of ``message`` put in it."""
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = _Outbox(loop)
    return outbox, outbox.put(message)


def publish(type_: str, data: Mapping[str, Any]) -> None:
    """Send an event to every subscribed client, in order. Never raises for a delivery failure:
    the feed must not fail the work it reports on. A caller off the loop waits (briefly) until
    its event is handed over while the layer is healthy; in an outage it does not wait, and the
    event is retried in the background (see ``_Outbox``)."""
    message = event(type_, data)
    loop = _loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:  # called from a coroutine on that loop: do not block it
        _enqueue(loop, message)
        return

    async def enqueue() -> tuple[_Outbox, Future[None]]:
        return _enqueue(loop, message)

    outbox, sent = asyncio.run_coroutine_threadsafe(enqueue(), loop).result()
    if not outbox.healthy:
        return
    try:
        sent.result(timeout=HANDOVER_TIMEOUT_S)
    except FutureTimeout:
        logger.warning("event %s not delivered within %ss; still trying", type_, HANDOVER_TIMEOUT_S)


def publish_on_commit(type_: str, data: Mapping[str, Any]) -> None:
    """``publish`` once the surrounding transaction commits (at once outside one): a client
    that reacts to the event by reading the API sees what it announces."""
    payload = dict(data)
    transaction.on_commit(lambda: publish(type_, payload))
