"""``SwarmClient``: the API over HTTP (httpx) and the event feed over WebSocket (websockets).

    client = SwarmClient(base_url="http://localhost:8080", auth_token=token)
    async with client:
        nodes = await client.nodes.list()

429 answers are retried after their Retry-After (``max_retries`` times, each wait at most
``max_retry_wait`` seconds); every other error raises the exception of its code
(``ncrsh_swarm.errors``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from ncrsh_swarm.errors import ConnectionFailed, RateLimited, error_for
from ncrsh_swarm.resources import Consensus, Datasets, Models, Network, Nodes, Training

DEFAULT_URL = "http://localhost:8080"


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


async def _raise_for(response: httpx.Response) -> None:
    if not response.is_error:
        return
    await response.aread()
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    error = error_for(response.status_code, body)
    if isinstance(error, RateLimited):
        error.retry_after = _retry_after(response)
    raise error


class SwarmClient:
    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        auth_token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_token = auth_token
        self.max_retries, self.max_retry_wait = max_retries, max_retry_wait
        headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else {}
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}/api/v1/", headers=headers, timeout=timeout, transport=transport
        )
        self.nodes = Nodes(self)
        self.training = Training(self)
        self.models = Models(self)
        self.datasets = Datasets(self)
        self.network = Network(self)
        self.consensus = Consensus(self)

    async def __aenter__(self) -> SwarmClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """The response of ``/api/v1/<path>``, unread; raises the mapped error for an error status."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(self.max_retries + 1):
            try:
                async with self._http.stream(method, path, json=json, params=params) as response:
                    if response.status_code == 429 and attempt < self.max_retries:
                        wait = min(_retry_after(response), self.max_retry_wait)
                    else:
                        await _raise_for(response)
                        yield response
                        return
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"{self.base_url}: {exc}") from exc
            await asyncio.sleep(wait)

    async def request(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        """The decoded JSON body (None for an empty one)."""
        async with self.stream(method, path, json=json, params=params) as response:
            await response.aread()
            return response.json() if response.content else None

    def ws_url(self, **query: str) -> str:
        base = self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/api/v1/ws" + (f"?{urlencode(query)}" if query else "")

    def ws_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.auth_token}"} if self.auth_token else {}


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret


async def login(base_url: str, username: str, password: str, *, timeout: float = 30.0) -> Tokens:
    """Exchange a username and password for tokens: ``SwarmClient(base_url, auth_token=tokens.access)``."""
    async with SwarmClient(base_url, timeout=timeout) as client:
        body = await client.request("POST", "auth/login", json={"username": username, "password": password})
    return Tokens(body["access"], body["refresh"], int(body["expires_in"]), body.get("token_type", "Bearer"))


async def refresh(base_url: str, refresh_token: str, *, timeout: float = 30.0) -> Tokens:
    """A new pair for a refresh token (the old one is then blacklisted)."""
    async with SwarmClient(base_url, timeout=timeout) as client:
        body = await client.request("POST", "auth/refresh", json={"refresh": refresh_token})
    return Tokens(body["access"], body["refresh"], int(body["expires_in"]), body.get("token_type", "Bearer"))
