"""The SDK's own logic, without a server: error mapping, the 429 retry, download verification,
the saved login's file. (Against a live server: test_sdk_live.py and test_cli_live.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import json
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import ncrsh_swarm as swarm
from ncrsh_swarm.errors import error_for
from ncrsh_swarm.terminal import Credentials, ProgressBar


def _error(code: int, message: str, detail: object = "why") -> dict[str, object]:
    return {"error": {"code": code, "message": message, "detail": detail}}


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (404, _error(1001, "NODE_NOT_FOUND"), swarm.NodeNotFound, 1001),
        (409, _error(1002, "TRAINING_IN_PROGRESS"), swarm.TrainingInProgress, 1002),
        (409, _error(1003, "CONSENSUS_FAILED"), swarm.ConsensusFailed, 1003),
        (422, _error(1004, "MODEL_CORRUPT"), swarm.ModelCorrupt, 1004),
        (503, _error(1005, "NETWORK_PARTITION"), swarm.NetworkPartition, 1005),
        (400, _error(400, "VALIDATION_ERROR", {"dataset": ["bad"]}), swarm.ValidationError, 400),
        (401, _error(401, "NOT_AUTHENTICATED"), swarm.AuthenticationError, 401),
        (403, _error(403, "PERMISSION_DENIED"), swarm.PermissionDenied, 403),
        (404, _error(404, "NOT_FOUND"), swarm.NotFound, 404),
        (409, _error(409, "CONFLICT"), swarm.Conflict, 409),
        (500, _error(500, "INTERNAL_ERROR"), swarm.ServerError, 500),
        (502, "<html>Bad Gateway</html>", swarm.ServerError, 502),
    ],
)
def test_each_error_maps_to_its_exception_with_the_code(
    status: int, body: object, kind: type[swarm.SwarmError], code: int
) -> None:
    error = error_for(status, body)
    assert type(error) is kind
    assert (error.code, error.status) == (code, status)
    assert isinstance(error, swarm.SwarmError)


def test_a_validation_error_keeps_the_fields() -> None:
    error = error_for(400, _error(400, "VALIDATION_ERROR", {"dataset": ["no such folder"]}))
    assert error.detail == {"dataset": ["no such folder"]}
    assert "VALIDATION_ERROR" in str(error)


def _client(handler: httpx.MockTransport, **kwargs: object) -> swarm.SwarmClient:
    return swarm.SwarmClient("http://swarm.test", "token", transport=handler, **kwargs)  # type: ignore[arg-type]


def test_429_is_retried_after_retry_after_then_succeeds() -> None:
    calls: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) < 3:
            return httpx.Response(429, headers={"Retry-After": "0.2"}, json=_error(429, "RATE_LIMITED"))
        return httpx.Response(200, json={"nodes": [], "total": 0, "active": 0})

    async def scenario() -> swarm.NodeList:
        async with _client(httpx.MockTransport(handle)) as client:
            return await client.nodes.list()

    assert asyncio.run(scenario()).total == 0
    assert len(calls) == 3
    assert calls[2] - calls[1] >= 0.19  # waited as told


def test_429_past_the_retries_raises_rate_limited_with_retry_after() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "7"}, json=_error(429, "RATE_LIMITED"))

    async def scenario() -> None:
        async with _client(httpx.MockTransport(handle), max_retries=0) as client:
            await client.nodes.list()

    with pytest.raises(swarm.RateLimited) as raised:
        asyncio.run(scenario())
    assert raised.value.retry_after == 7.0


def test_a_download_that_does_not_match_its_sha256_leaves_nothing(tmp_path: Path) -> None:
    payload = b"checkpoint bytes"

    def handle(request: httpx.Request) -> httpx.Response:
        announced = hashlib.sha256(b"other bytes").hexdigest()
        return httpx.Response(200, headers={"ETag": f'"{announced}"'}, content=payload)

    async def scenario() -> None:
        async with _client(httpx.MockTransport(handle)) as client:
            await client.models.download("model_1", tmp_path)

    with pytest.raises(swarm.DownloadCorrupt):
        asyncio.run(scenario())
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_server_is_connection_failed() -> None:
    async def scenario() -> None:
        async with swarm.SwarmClient("http://127.0.0.1:9", "token", timeout=2) as client:
            await client.nodes.list()

    with pytest.raises(swarm.ConnectionFailed):
        asyncio.run(scenario())


def test_importing_the_sdk_loads_neither_django_nor_torch() -> None:
    probe = (
        "import sys, ncrsh_swarm, ncrsh_swarm.cli;"
        "print([m for m in sys.modules if m.split('.')[0] in ('django', 'torch')])"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_saved_login_is_readable_by_its_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config" / "credentials.json"
    monkeypatch.setenv("NCRSH_CREDENTIALS", str(path))
    path.parent.mkdir()
    path.write_text("{}")
    path.chmod(0o644)  # an older, looser file is tightened
    Credentials("http://swarm.test", "admin", "access", "refresh").save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["access"] == "access"
    assert Credentials.load() == Credentials("http://swarm.test", "admin", "access", "refresh")


def test_a_progress_bar_writes_a_line_per_update_off_a_terminal(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w+") as sink:
        bar = ProgressBar(sink, width=10)
        bar.update(0.5, "half")
        bar.update(None, "no total")
        bar.close()
        sink.seek(0)
        assert sink.read().splitlines() == ["[#####.....]  50%  half", "no total"]


def test_the_paged_lists_send_their_filters_and_pages() -> None:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.path}?{request.url.query.decode()}")
        key = request.url.path.rsplit("/", 1)[-1]
        body = {key: [], "nodes": [], "edges": [], "total": 0, "session_id": None, "pattern": "", "transport": ""}
        return httpx.Response(200, json=body)

    async def scenario() -> None:
        async with _client(httpx.MockTransport(handle)) as client:
            await client.training.sessions(status="completed", limit=5, offset=10)
            await client.models.list(session_id="training_1", limit=2)
            await client.datasets.list(offset=3)
            await client.network.topology("training_1", limit=7)

    asyncio.run(scenario())
    assert asked == [
        "/api/v1/training/sessions?status=completed&limit=5&offset=10",
        "/api/v1/models?session=training_1&limit=2",
        "/api/v1/datasets?offset=3",
        "/api/v1/network/topology?session=training_1&limit=7",
    ]
