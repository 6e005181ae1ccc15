"""The SDK against a live embedded server: every resource, the error mapping, the event stream,
and the spec's own example. The tests share one server and run in order."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import ncrsh_swarm as swarm
from engine.files import read_metadata
from tests.support.live import ADMIN_PASSWORD, ADMIN_USERNAME, LiveServer, poll

pytestmark = pytest.mark.live
SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "000_79283d3fcbe9a4e9.txt"
T = TypeVar("T")
QUICK: dict[str, Any] = {"model_config": {"preset": "tiny"}, "local_steps": 5, "log_every": 2, "batch_size": 8}


@pytest.fixture(scope="module")
def token(server: LiveServer) -> str:
    return asyncio.run(swarm.login(server.url, ADMIN_USERNAME, ADMIN_PASSWORD)).access


def with_client(server: LiveServer, token: str | None, use: Callable[[swarm.SwarmClient], Awaitable[T]]) -> T:
    async def scenario() -> T:
        async with swarm.SwarmClient(base_url=server.url, auth_token=token) as client:
            return await asyncio.wait_for(use(client), timeout=300)

    return asyncio.run(scenario())


def test_login_gives_tokens_and_a_wrong_password_is_refused(server: LiveServer, token: str) -> None:
    assert token.count(".") == 2
    with pytest.raises(swarm.AuthenticationError) as refused:
        asyncio.run(swarm.login(server.url, ADMIN_USERNAME, "wrong"))
    assert refused.value.code == 401


def test_nodes_list_get_create_and_delete(server: LiveServer, token: str) -> None:
    async def use(client: swarm.SwarmClient) -> None:
        listed = await client.nodes.list()
        assert (listed.total, listed.active, len(listed)) == (2, 2, 2)
        assert all(isinstance(n, swarm.Node) and n.status == "active" for n in listed)
        first = await client.nodes.get(listed.nodes[0].id)
        assert first.config is not None
        assert first.config["model_config"]["hidden_size"] == 512
        created = await client.nodes.create({"model_config": {"hidden_size": 64, "num_layers": 2, "num_heads": 4}})
        assert [n.id for n in (await client.nodes.list(status=["active"])).nodes].count(created.id) == 1
        await client.nodes.delete(created.id)
        with pytest.raises(swarm.NodeNotFound) as missing:
            await client.nodes.get(created.id)
        assert (missing.value.code, missing.value.status, missing.value.message) == (1001, 404, "NODE_NOT_FOUND")

    with_client(server, token, use)


def test_a_bad_token_is_an_authentication_error(server: LiveServer) -> None:
    with pytest.raises(swarm.AuthenticationError):
        with_client(server, "not-a-token", lambda client: client.nodes.list())


def test_a_bad_setting_is_a_validation_error_naming_the_field(server: LiveServer, token: str) -> None:
    with pytest.raises(swarm.ValidationError) as invalid:
        with_client(server, token, lambda client: client.training.start("no_such_dataset", **QUICK))
    assert "dataset" in invalid.value.detail


def _stop_after_steps(server: LiveServer, token: str, steps: int) -> threading.Thread:
    """An operator who stops the running session once it passed ``steps``."""

    def watch() -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            poll(
                lambda: http.get("/api/v1/training/status").json(),
                lambda s: s.get("status") == "running" and s["progress"]["step"] >= steps,
                timeout=240,
                what=f"{steps} steps",
            )
            http.post("/api/v1/training/stop").raise_for_status()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_the_spec_example_runs_as_written(server: LiveServer, token: str, capsys: pytest.CaptureFixture[str]) -> None:
    snippet = re.search(r"## .*Python SDK\s+```python\n(.*?)```", SPEC.read_text(), re.DOTALL)
    assert snippet, "the spec's Python SDK example"
    code = snippet.group(1).replace("http://localhost:8080", server.url).replace("your_jwt_token", token)
    body = "\n".join(f"    {line}" for line in code.splitlines())
    namespace: dict[str, Any] = {}
    exec(f"async def example():\n{body}\n", namespace)  # noqa: S102 - the spec's own example, as written
    stopper = _stop_after_steps(server, token, steps=12)
    asyncio.run(asyncio.wait_for(namespace["example"](), timeout=300))
    stopper.join(timeout=30)
    printed = re.findall(r"^Epoch: (\d+), Loss: ([\d.]+)$", capsys.readouterr().out, re.MULTILINE)
    assert len(printed) >= 3
    assert all(float(loss) > 0 for _, loss in printed)


def test_training_start_status_stream_and_sessions(server: LiveServer, token: str) -> None:
    async def use(client: swarm.SwarmClient) -> tuple[swarm.TrainingStatus, list[swarm.Progress]]:
        started = await client.training.start("builtin:pystdlib", max_steps=30, **QUICK)
        with pytest.raises(swarm.TrainingInProgress) as busy:
            await client.training.start("builtin:pystdlib")
        assert busy.value.code == 1002
        updates = [progress async for progress in client.training.stream_progress()]
        return started, updates

    started, updates = with_client(server, token, use)
    assert started.status == "running"
    assert len(started.nodes) == 2
    # The stream ended by itself, with the session: every update is of it, in order.
    assert len(updates) >= 3
    assert {u.session_id for u in updates} == {started.session_id}
    assert all(u.loss is not None and u.loss > 0 for u in updates)
    assert all(u.accuracy is not None and 0 <= u.accuracy <= 1 for u in updates)
    # Byte tokens: bits per byte is the loss in bits.
    assert all(u.bits_per_byte == pytest.approx((u.loss or 0) / math.log(2)) for u in updates if u.bits_per_byte)
    assert any(u.bits_per_byte for u in updates)
    assert all(u.epoch >= 0 and len(u.nodes) == 2 for u in updates)
    assert updates[-1].step >= updates[0].step
    assert {u.node_id for u in updates} == {n.id for n in started.nodes}

    status = with_client(server, token, lambda client: client.training.status())
    assert (status.session_id, status.status) == (started.session_id, "completed")
    sessions = with_client(server, token, lambda client: client.training.sessions())
    assert started.session_id in [s.id for s in sessions]
    session = with_client(server, token, lambda client: client.training.session(started.session_id))
    assert (session.final_model or "").startswith("model_")
    assert session.finished_at is not None


def test_datasets_prepare_list_and_train(server: LiveServer, token: str, tmp_path: Path) -> None:
    async def use(client: swarm.SwarmClient) -> tuple[swarm.Dataset, list[swarm.Dataset], swarm.Session]:
        preparing = await client.datasets.prepare("py", "builtin:pystdlib")
        assert preparing.status == "preparing"
        with pytest.raises(swarm.ValidationError) as bad:
            await client.datasets.prepare("nope", "builtin:pystdlib", tokenizer="wordpiece")
        assert "tokenizer" in bad.value.detail
        ready = await poll_async(lambda: client.datasets.get("py"), lambda d: d.status != "preparing")
        listed = await client.datasets.list()
        started = await client.training.start("py", max_steps=10, **QUICK)
        async for _ in client.training.stream_progress(started.session_id):
            pass
        session = await client.training.session(started.session_id)
        await client.models.download(session.final_model or "", tmp_path / "final.safetensors")
        return ready, listed, session

    ready, listed, session = with_client(server, token, use)
    assert ready.status == "ready", ready.error
    assert ready.tokens > 1_000_000
    assert ready.tokenizer == "byte"
    assert "py" in [d.name for d in listed]
    assert session.status == "completed", session.error
    assert session.metrics["val_bits_per_byte"] == pytest.approx(session.metrics["val_loss"] / math.log(2))
    # The checkpoint carries the tokenizer it was trained with.
    tokenizer = read_metadata(tmp_path / "final.safetensors")["tokenizer"]
    assert (tokenizer["spec"], tokenizer["sha256"]) == ("byte", ready.tokenizer_sha256)


async def poll_async(get: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 120) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await get()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.5)


def test_stream_progress_of_an_ended_session_ends_at_once(server: LiveServer, token: str) -> None:
    async def use(client: swarm.SwarmClient) -> list[swarm.Progress]:
        return [p async for p in client.training.stream_progress()]

    assert with_client(server, token, use) == []


def test_models_save_list_download_and_load(server: LiveServer, token: str, tmp_path: Path) -> None:
    async def use(client: swarm.SwarmClient) -> tuple[swarm.Model, Path, swarm.Model, list[swarm.Model]]:
        saved = await client.models.save()
        sizes: list[tuple[int, int | None]] = []
        path = await client.models.download(
            saved.id, tmp_path, on_progress=lambda done, total: sizes.append((done, total))
        )
        assert sizes[-1] == (saved.size, saved.size)
        loaded = await client.models.load(saved.id)
        with pytest.raises(swarm.NotFound):
            await client.models.download("model_nope", tmp_path / "nope.safetensors")
        return saved, path, loaded, await client.models.list()

    saved, path, loaded, listed = with_client(server, token, use)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == saved.sha256
    assert path.name == f"{saved.id}.safetensors"
    assert loaded.loaded
    assert saved.id in [m.id for m in listed]
    assert not (tmp_path / "nope.safetensors").exists()


def test_network_topology_metrics_and_discovery(server: LiveServer, token: str) -> None:
    async def use(client: swarm.SwarmClient) -> tuple[swarm.Topology, swarm.NetworkMetrics, swarm.Discovery]:
        return await client.network.topology(), await client.network.metrics(), await client.network.discover()

    topology, metrics, discovery = with_client(server, token, use)
    assert topology.transport == "memory"
    assert {(e.source, e.target) for e in topology.edges} == {
        (a["id"], b["id"]) for a in topology.nodes for b in topology.nodes if a["member"] and b["member"] and a != b
    }
    assert all(e.bytes > 0 and e.latency_ms["mean"] >= 0 for e in topology.edges)
    assert all(n["bytes_sent"] > 0 for n in metrics.nodes)
    assert metrics.partition is False
    assert discovery.lost == []


def test_consensus_status_and_history(server: LiveServer, token: str) -> None:
    async def use(client: swarm.SwarmClient) -> tuple[swarm.ConsensusStatus, swarm.History]:
        status, history = await client.consensus.status(), await client.consensus.history(limit=5)
        decided = history.decisions[0]
        with pytest.raises(swarm.Conflict) as closed:
            await client.consensus.vote(round_id=decided.round_id, node_id=decided.accepted[0], approve=False)
        assert (closed.value.code, closed.value.message) == (409, "ROUND_CLOSED")
        with pytest.raises(swarm.NotFound):
            await client.consensus.vote(proposal_id="proposal_nope", approve=True)
        return status, history

    status, history = with_client(server, token, use)
    assert status.members
    assert status.last_decision is not None
    assert history.total >= 1
    assert len(history.decisions) <= 5
    assert all(isinstance(d, swarm.Decision) and d.round_id.startswith("round_") for d in history.decisions)
    assert all(p["proposal_id"].startswith("proposal_") for d in history.decisions for p in d.proposals)
    # The last round's model is the session's final model, saved as a checkpoint.
    assert history.decisions[0].checkpoint is not None


def test_anonymous_calls_past_the_limit_raise_rate_limited(server: LiveServer) -> None:
    """Last: it spends this server's anonymous allowance (100 a minute per address)."""

    async def use(client: swarm.SwarmClient) -> swarm.RateLimited:
        for _ in range(150):
            try:
                await client.training.status()
            except swarm.RateLimited as limited:
                return limited
            except swarm.AuthenticationError:
                continue
        raise AssertionError("no 429 after 150 anonymous requests")

    async def scenario() -> swarm.RateLimited:
        async with swarm.SwarmClient(server.url, max_retries=0) as client:
            return await use(client)

    limited = asyncio.run(scenario())
    assert (limited.code, limited.status) == (429, 429)
    assert limited.retry_after is not None
    assert limited.retry_after > 0
