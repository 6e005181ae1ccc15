"""The WebSocket feed through Channels' own test client, on the configured channel layer
(in-memory here, Redis pub/sub in CI)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import transaction
from pytest_django.fixtures import Settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from ncrsh_site import events
from ncrsh_site.asgi import application, websocket_urls

pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def access(user: User, *, lifetime: timedelta | None = None) -> str:
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


async def publish(type_: str, data: dict[str, Any]) -> None:
    # As web views and workers do: from a thread that is not the server's loop.
    await asyncio.to_thread(events.publish, type_, data)


async def connected(path: str, **kwargs: Any) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, **kwargs)
    accepted, _ = await communicator.connect(timeout=5)
    assert accepted, f"{path} was refused"
    return communicator


def test_a_client_with_a_token_in_the_query_receives_events_in_the_wire_format(staff: User) -> None:
    async def scenario() -> None:
        ws = await connected(f"/api/v1/ws?token={access(staff)}")
        await publish("node_joined", {"node_id": "node_abc"})
        message = await ws.receive_json_from(timeout=5)
        assert message["type"] == "node_joined"
        assert message["data"] == {"node_id": "node_abc"}
        assert message["timestamp"].endswith("Z")
        await ws.disconnect()

    run(scenario)


def test_what_a_client_sends_is_ignored_and_the_feed_goes_on(staff: User) -> None:
    async def scenario() -> None:
        ws = await connected(f"/api/v1/ws?token={access(staff)}")
        await ws.send_to(text_data="not json {")
        await ws.send_to(bytes_data=b"\x00\x01")
        await publish("node_left", {"node_id": "node_abc"})
        assert (await ws.receive_json_from(timeout=5))["type"] == "node_left"
        await ws.disconnect()

    run(scenario)


def test_a_bearer_header_authenticates(staff: User) -> None:
    async def scenario() -> None:
        ws = await connected("/api/v1/ws", headers=[(b"authorization", f"Bearer {access(staff)}".encode())])
        await publish("model_update", {"model_hash": "sha256:1"})
        assert (await ws.receive_json_from(timeout=5))["type"] == "model_update"
        await ws.disconnect()

    run(scenario)


def test_the_bearer_subprotocol_authenticates_and_is_answered(staff: User) -> None:
    async def scenario() -> None:
        ws = WebsocketCommunicator(application, "/api/v1/ws", subprotocols=["bearer", access(staff)])
        accepted, subprotocol = await ws.connect(timeout=5)
        assert accepted
        assert subprotocol == "bearer"
        await ws.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(None, id="no token"),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param("refresh", id="a refresh token"),
        pytest.param("expired", id="an expired token"),
    ],
)
def test_a_connection_without_a_valid_access_token_is_refused(staff: User, token: str | None) -> None:
    raw = {
        None: None,
        "not-a-jwt": "not-a-jwt",
        "refresh": str(RefreshToken.for_user(staff)),
        "expired": access(staff, lifetime=timedelta(seconds=-1)),
    }[token]

    async def scenario() -> None:
        ws = WebsocketCommunicator(application, f"/api/v1/ws?token={raw}" if raw else "/api/v1/ws")
        accepted, _ = await ws.connect(timeout=5)
        assert not accepted

    run(scenario)


def test_a_deactivated_user_is_refused(staff: User) -> None:
    token = access(staff)
    staff.is_active = False
    staff.save()

    async def scenario() -> None:
        accepted, _ = await WebsocketCommunicator(application, f"/api/v1/ws?token={token}").connect(timeout=5)
        assert not accepted

    run(scenario)


def test_types_subscribes_to_a_subset(staff: User) -> None:
    async def scenario() -> None:
        ws = await connected(f"/api/v1/ws?token={access(staff)}&types=node_left,model_update")
        await publish("node_joined", {"node_id": "node_a"})
        await publish("node_left", {"node_id": "node_a"})
        received = await ws.receive_json_from(timeout=5)
        assert (received["type"], received["data"]) == ("node_left", {"node_id": "node_a"})
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    run(scenario)


def test_unknown_types_close_the_connection_with_4400(staff: User) -> None:
    async def scenario() -> None:
        ws = await connected(f"/api/v1/ws?token={access(staff)}&types=node_joined,gossip")
        closed = await ws.receive_output(timeout=5)
        assert closed["type"] == "websocket.close"
        assert closed["code"] == 4400
        assert "gossip" in closed["reason"]

    run(scenario)


def test_the_connection_closes_with_4401_when_the_token_expires(staff: User) -> None:
    async def scenario() -> None:
        ws = await connected(f"/api/v1/ws?token={access(staff, lifetime=timedelta(seconds=1))}")
        closed = await ws.receive_output(timeout=5)
        assert (closed["type"], closed["code"]) == ("websocket.close", 4401)

    run(scenario)


def test_a_browser_from_a_foreign_origin_is_refused(staff: User, settings: Settings) -> None:
    settings.ALLOWED_HOSTS = ["swarm.example.com"]
    guarded = AllowedHostsOriginValidator(URLRouter(websocket_urls))
    path = f"/api/v1/ws?token={access(staff)}"

    async def scenario() -> None:
        foreign = WebsocketCommunicator(guarded, path, headers=[(b"origin", b"https://evil.example.org")])
        assert not (await foreign.connect(timeout=5))[0]
        own = WebsocketCommunicator(guarded, path, headers=[(b"origin", b"https://swarm.example.com")])
        assert (await own.connect(timeout=5))[0]
        await own.disconnect()

    run(scenario)


def test_publish_refuses_an_unknown_event_type() -> None:
    with pytest.raises(ValueError, match="unknown event type 'gossip'"):
        events.publish("gossip", {})


def test_an_event_published_on_commit_is_sent_only_if_the_transaction_commits(staff: User) -> None:
    def announce(*, commit: bool, node_id: str) -> None:
        with contextlib.suppress(RuntimeError), transaction.atomic():
            events.publish_on_commit("node_left", {"node_id": node_id})
            if not commit:
                raise RuntimeError("rolled back")

    async def scenario() -> None:
        ws = await connected(f"/api/v1/ws?token={access(staff)}")
        await asyncio.to_thread(announce, commit=False, node_id="node_rolled_back")
        await asyncio.to_thread(announce, commit=True, node_id="node_committed")
        assert (await ws.receive_json_from(timeout=5))["data"] == {"node_id": "node_committed"}
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    run(scenario)


class FlakyLayer:
    """A channel layer whose Redis is down for its first ``failures`` sends (logic test only)."""

    def __init__(self, failures: int) -> None:
        self.failures, self.sent = failures, list[str]()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.sent.append(json.loads(message["text"])["data"]["node_id"])


def test_events_published_in_an_outage_are_retried_and_delivered_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = FlakyLayer(failures=4)
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(events, "_background", None)  # a loop (and outbox) of this test's own
    for i in range(5):
        events.publish("node_left", {"node_id": f"node_{i}"})  # never raises for the outage
    deadline = time.monotonic() + 10
    while len(layer.sent) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert layer.sent == [f"node_{i}" for i in range(5)]
