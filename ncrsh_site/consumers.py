"""``ws://host:8080/api/v1/ws``: the event feed (spec "WebSocket API").

The access token comes from ``?token=``, an ``Authorization: Bearer`` header, or the ``bearer``
subprotocol (``new WebSocket(url, ["bearer", token])``, answered with ``bearer``); without a valid
one the handshake is refused. The connection closes with 4401 when the token expires.
``?types=a,b`` subscribes to a subset of the event types.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.tokens import Token

from ncrsh_site import events

SUBPROTOCOL = "bearer"
CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_REQUEST = 4400


def _token(scope: dict[str, Any], query: dict[str, list[str]]) -> tuple[str | None, bool]:
    """(raw token, whether it came as a subprotocol)."""
    protocols = list(scope.get("subprotocols") or [])
    if SUBPROTOCOL in protocols and protocols.index(SUBPROTOCOL) + 1 < len(protocols):
        return protocols[protocols.index(SUBPROTOCOL) + 1], True
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, raw = value.decode("latin-1").partition(" ")
            if kind.lower() == "bearer" and raw.strip():
                return raw.strip(), False
    return (query["token"][-1], False) if query.get("token") else (None, False)


@database_sync_to_async
def _active_user(token: Token) -> bool:
    try:
        return bool(JWTAuthentication().get_user(token).is_active)
    except (AuthenticationFailed, TokenError):
        return False


class EventsConsumer(AsyncJsonWebsocketConsumer):
    types: frozenset[str]
    expiry: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        raw, as_subprotocol = _token(self.scope, query)
        try:
            token = JWTAuthentication().get_validated_token(raw.encode()) if raw else None
        except (AuthenticationFailed, TokenError):
            token = None
        if token is None or not await _active_user(token):
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        await self.accept(SUBPROTOCOL if as_subprotocol else None)
        requested = {t for value in query.get("types", []) for t in value.split(",") if t}
        unknown = requested - set(events.EVENT_TYPES)
        if unknown:
            known = ", ".join(events.EVENT_TYPES)
            await self.close(CLOSE_BAD_REQUEST, reason=f"unknown event types {sorted(unknown)}; known: {known}")
            return
        self.types = frozenset(requested or events.EVENT_TYPES)
        events.bind_loop(asyncio.get_running_loop())
        await self.channel_layer.group_add(events.GROUP, self.channel_name)
        self.expiry = asyncio.create_task(self._close_at(float(token["exp"])))

    async def _close_at(self, expires: float) -> None:
        await asyncio.sleep(max(0.0, expires - time.time()))
        await self.close(CLOSE_UNAUTHORIZED, reason="token expired")

    async def disconnect(self, code: int) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.expiry
        await self.channel_layer.group_discard(events.GROUP, self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections in a worker thread before every message; the
        # events touch no database, and that thread hop per event and client was most of the cost.
        if message["type"] == events.MESSAGE_TYPE:
            await self.swarm_event(message)
        else:
            await super().dispatch(message)

    async def swarm_event(self, message: dict[str, Any]) -> None:
        if message["event_type"] in self.types:
            await self.send(text_data=message["text"])

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """The feed is one-way: what a client sends (JSON or not) is ignored, not decoded."""
