"""A WebSocket client that no one here wrote (the ``websockets`` library's), collecting events;
and a check of events against the Event schema of the OpenAPI document."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jsonschema import Draft7Validator
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

Event = dict[str, Any]


class Listener:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[Event] = []
        self.closed: ConnectionClosed | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in self.connection:
                with self._changed:
                    self.events.append(json.loads(message))
                    self._changed.notify_all()
        except ConnectionClosed as exc:
            self.closed = exc
        with self._changed:
            self._changed.notify_all()

    def of(self, type_: str) -> list[Event]:
        with self._changed:
            return [e for e in self.events if e["type"] == type_]

    def wait_for(self, what: str, until: Callable[[list[Event]], bool], *, timeout: float) -> list[Event]:
        """Wait until ``until(events so far)`` holds; fail naming ``what`` and the types seen."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not until(self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed is not None:
                    seen = [e["type"] for e in self.events]
                    raise AssertionError(f"no {what} within {timeout}s (closed: {self.closed}); saw {seen}")
                self._changed.wait(min(remaining, 0.5))
            return list(self.events)


@contextmanager
def listening(url: str, **kwargs: Any) -> Iterator[Listener]:
    with connect(url, open_timeout=10, **kwargs) as connection:
        yield Listener(connection)


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` in JSON Schema's terms (a type that also admits null)."""
    if isinstance(node, dict):
        out = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
        if node.get("nullable") and "type" in node:
            out["type"] = [node["type"], "null"]
        return out
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    return node


def event_validator(document: dict[str, Any]) -> Draft7Validator:
    """A validator of the document's Event component (its references resolved in the document)."""
    schema = {"$ref": "#/components/schemas/Event", "components": _json_schema(document["components"])}
    return Draft7Validator(schema)
