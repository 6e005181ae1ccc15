"""The API's resources, as ``client.nodes``, ``client.training``, ``client.models``,
``client.network`` and ``client.consensus``."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from ncrsh_swarm.errors import AuthenticationError, ConnectionFailed, DownloadCorrupt, error_for
from ncrsh_swarm.types import (
    ConsensusStatus,
    Dataset,
    Discovery,
    History,
    Model,
    NetworkMetrics,
    Node,
    NodeList,
    Progress,
    Sample,
    Session,
    Topology,
    TrainingStatus,
)

if TYPE_CHECKING:
    from ncrsh_swarm.client import SwarmClient

FINISHED = ("stopped", "completed", "failed")


def _present(body: dict[str, Any]) -> dict[str, Any]:
    """The fields the caller set: the server's defaults apply to the others."""
    return {k: v for k, v in body.items() if v is not None}


class Resource:
    def __init__(self, client: SwarmClient) -> None:
        self._client = client


class Nodes(Resource):
    async def list(
        self, *, status: str | Sequence[str] | None = None, limit: int | None = None, offset: int | None = None
    ) -> NodeList:
        """Nodes, optionally of some statuses (``"active"`` or ``["active", "training"]``)."""
        statuses = status if isinstance(status, str) or status is None else ",".join(status)
        params = {"status": statuses, "limit": limit, "offset": offset}
        return NodeList.from_json(await self._client.request("GET", "nodes", params=params))

    async def get(self, node_id: str) -> Node:
        return Node.from_json(await self._client.request("GET", f"nodes/{node_id}"))

    async def create(self, config: dict[str, Any] | None = None) -> Node:
        """A pending node for ``ncrsh worker --node <id>`` to claim (staff only)."""
        body = {"config": config} if config is not None else {}
        return Node.from_json(await self._client.request("POST", "nodes", json=body))

    async def delete(self, node_id: str) -> None:
        await self._client.request("DELETE", f"nodes/{node_id}")


class Training(Resource):
    async def start(
        self,
        dataset: str,
        *,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        nodes: Sequence[str] | None = None,
        strategy: str | None = None,
        **options: Any,
    ) -> TrainingStatus:
        """Start a session (staff only). ``options`` are the API's other fields: ``model_config``,
        ``max_steps``, ``local_steps``, ``aggregator``, ``quorum``, ``deadline_s``, ``log_every``, …"""
        body = {
            "dataset": dataset,
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "nodes": list(nodes) if nodes is not None else None,
            "strategy": strategy,
            **options,
        }
        started = await self._client.request(
            "POST", "training/start", json={k: v for k, v in body.items() if v is not None}
        )
        return TrainingStatus.from_json(started)

    async def status(self) -> TrainingStatus:
        """The running session, else the last one."""
        return TrainingStatus.from_json(await self._client.request("GET", "training/status"))

    async def stop(self) -> TrainingStatus:
        """Every node stops after its current step; the final model is saved (staff only)."""
        return TrainingStatus.from_json(await self._client.request("POST", "training/stop"))

    async def sessions(
        self, *, status: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> list[Session]:
        """A page of the sessions, newest first (``limit`` 1-1000, default 100), of one status or any."""
        params = {"status": status, "limit": limit, "offset": offset}
        body = await self._client.request("GET", "training/sessions", params=params)
        return [Session.from_json(s) for s in body["sessions"]]

    async def session(self, session_id: str) -> Session:
        return Session.from_json(await self._client.request("GET", f"training/sessions/{session_id}"))

    async def stream_progress(self, session_id: str | None = None) -> AsyncIterator[Progress]:
        """Each progress report of the session (default: the running one) as it happens, from the
        event feed; ends when the session ends (at once if it has already)."""
        url = self._client.ws_url(types="training_progress,training_stopped")
        try:
            async with websockets.connect(url, additional_headers=self._client.ws_headers(), open_timeout=30) as ws:
                # Subscribed first, then asked: nothing that happens in between is missed.
                if session_id is None:
                    current = await self.status()
                    session_id, finished = current.session_id, not current.running
                else:
                    finished = (await self.session(session_id)).status in FINISHED
                if finished:
                    return
                async for message in ws:
                    event = json.loads(message)
                    if event["data"].get("session_id") != session_id:
                        continue
                    if event["type"] == "training_stopped":
                        return
                    yield Progress.from_event(event)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 403:
                raise AuthenticationError("the event feed refused the token", status=403) from None
            raise error_for(status, exc.response.body.decode(errors="replace") if exc.response.body else "") from None
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code == 4401:
                raise AuthenticationError("the token expired", status=401) from None
            raise ConnectionFailed(f"the event feed closed: {exc}") from None
        except (OSError, InvalidURI, TimeoutError) as exc:
            raise ConnectionFailed(f"{url}: {exc}") from None


class Datasets(Resource):
    async def list(self, *, limit: int | None = None, offset: int | None = None) -> list[Dataset]:
        """A page of the prepared datasets, ready to be named by a session."""
        body = await self._client.request("GET", "datasets", params={"limit": limit, "offset": offset})
        return [Dataset.from_json(d) for d in body["datasets"]]

    async def get(self, name: str) -> Dataset:
        """One dataset, also while it is being prepared or after its preparation failed."""
        return Dataset.from_json(await self._client.request("GET", f"datasets/{name}"))

    async def prepare(
        self, name: str, source: str, *, tokenizer: str = "byte", vocab_size: int | None = None
    ) -> Dataset:
        """Have a worker tokenise ``source`` into the dataset ``name`` (staff only); returns at
        once, status ``preparing`` (poll ``get``, or follow the dataset_progress events)."""
        body: dict[str, Any] = {"name": name, "source": source, "tokenizer": tokenizer}
        if vocab_size is not None:
            body["vocab_size"] = vocab_size
        return Dataset.from_json(await self._client.request("POST", "datasets", json=body))


class Models(Resource):
    async def list(
        self, *, session_id: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> list[Model]:
        """A page of the checkpoints, newest first, of one session or all."""
        params = {"session": session_id, "limit": limit, "offset": offset}
        body = await self._client.request("GET", "models", params=params)
        return [Model.from_json(m) for m in body["models"]]

    async def save(self, session_id: str | None = None) -> Model:
        """Register the running (or last) session's current global model (staff only)."""
        body = {"session_id": session_id} if session_id else {}
        return Model.from_json(await self._client.request("POST", "models/save", json=body))

    async def load(self, model_id: str) -> Model:
        """Verify the checkpoint and make it the next session's starting weights (staff only)."""
        return Model.from_json(await self._client.request("POST", "models/load", json={"model_id": model_id}))

    async def download(
        self,
        model_id: str,
        path: str | os.PathLike[str],
        *,
        on_progress: Callable[[int, int | None], None] | None = None,
        chunk_size: int = 1 << 20,
    ) -> Path:
        """Stream the checkpoint to ``path`` (a folder: ``<model_id>.safetensors`` inside it), checking
        its sha256 against the one the server announced; ``on_progress(bytes_so_far, total)``.
        Nothing is left at ``path`` unless the bytes verify (``DownloadCorrupt``)."""
        target = Path(path)
        if target.is_dir():
            target = target / f"{model_id}.safetensors"
        partial = target.with_name(target.name + ".part")
        digest = hashlib.sha256()
        async with self._client.stream("GET", f"models/{model_id}/download") as response:
            expected = response.headers.get("etag", "").strip('"')
            total = int(response.headers["content-length"]) if "content-length" in response.headers else None
            done = 0
            try:
                with partial.open("wb") as sink:
                    async for chunk in response.aiter_bytes(chunk_size):
                        sink.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if on_progress is not None:
                            on_progress(done, total)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        if expected and digest.hexdigest() != expected:
            partial.unlink(missing_ok=True)
            raise DownloadCorrupt(f"{model_id}: sha256 {digest.hexdigest()}, the server announced {expected}")
        partial.replace(target)
        return target

    async def generate(
        self,
        model_id: str,
        prompt: str = "",
        *,
        max_new_tokens: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> Sample:
        """What the model writes after ``prompt`` (the server runs it: at most 1024 tokens)."""
        body: dict[str, Any] = {"prompt": prompt, "max_new_tokens": max_new_tokens, "temperature": temperature}
        body |= {k: v for k, v in (("top_k", top_k), ("seed", seed)) if v is not None}
        return Sample.from_json(await self._client.request("POST", f"models/{model_id}/generate", json=body))

    async def export(
        self,
        model_id: str,
        directory: str | os.PathLike[str],
        *,
        format: str = "hf",
        on_progress: Callable[[int, int | None], None] | None = None,
        chunk_size: int = 1 << 20,
    ) -> Sequence[Path]:
        """The model as a Hugging Face folder in ``directory`` (created if missing):
        ``transformers``' ``AutoModelForCausalLM.from_pretrained(directory)`` loads it. The
        archive is streamed to a temporary file and unpacked only when whole; the files written."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        partial = target / f".{model_id}-{format}.tar.part"
        try:
            async with self._client.stream("GET", f"models/{model_id}/export", params={"format": format}) as response:
                done = 0
                with partial.open("wb") as sink:
                    async for chunk in response.aiter_bytes(chunk_size):
                        sink.write(chunk)
                        done += len(chunk)
                        if on_progress is not None:
                            on_progress(done, None)
            with tarfile.open(partial) as archive:
                names = archive.getnames()
                archive.extractall(target, filter="data")  # plain files inside target only
        finally:
            partial.unlink(missing_ok=True)
        return [target / name for name in names]


class Network(Resource):
    async def topology(
        self, session_id: str | None = None, *, limit: int | None = None, offset: int | None = None
    ) -> Topology:
        """The session's exchange over a page of the nodes (members and alive ones, by id)."""
        params = {"session": session_id, "limit": limit, "offset": offset}
        return Topology.from_json(await self._client.request("GET", "network/topology", params=params))

    async def discover(self) -> Discovery:
        """Ping the fleet; silent nodes turn offline (staff only)."""
        return Discovery.from_json(await self._client.request("POST", "network/discover"))

    async def metrics(
        self, session_id: str | None = None, *, limit: int | None = None, offset: int | None = None
    ) -> NetworkMetrics:
        """A page of the nodes' exchange figures, with totals over all of them."""
        params = {"session": session_id, "limit": limit, "offset": offset}
        body = await self._client.request("GET", "network/metrics", params=params)
        return NetworkMetrics.from_json(body)


class Consensus(Resource):
    async def status(self) -> ConsensusStatus:
        return ConsensusStatus.from_json(await self._client.request("GET", "consensus/status"))

    async def history(
        self, *, session_id: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> History:
        params = {"session": session_id, "limit": limit, "offset": offset}
        return History.from_json(await self._client.request("GET", "consensus/history", params=params))

    async def vote(
        self,
        *,
        approve: bool,
        proposal_id: str | None = None,
        round_id: str | None = None,
        node_id: str | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """Vote on a proposal of an open round: by ``proposal_id``, or ``round_id`` + ``node_id``."""
        body = {
            "proposal_id": proposal_id,
            "round_id": round_id,
            "node_id": node_id,
            "approve": approve,
            "reason": reason,
        }
        return dict(
            await self._client.request("POST", "consensus/vote", json={k: v for k, v in body.items() if v is not None})
        )
