"""Typed results. Each is built from the API's JSON with ``from_json``; fields the server adds
later are ignored, and the whole body stays in ``raw``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self, TypeVar

T = TypeVar("T")


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _known(cls: type[T], data: Mapping[str, Any], **converted: Any) -> T:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in data.items() if k in names}
    values.update(converted)
    if "raw" in names:
        values["raw"] = dict(data)
    return cls(**values)


# --- nodes --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Performance:
    training_speed: float | None = None
    memory_usage: float | None = None
    network_latency: float | None = None  # milliseconds


@dataclass(frozen=True)
class Node:
    id: str
    status: str
    address: str | None = None
    model_hash: str | None = None
    last_seen: datetime | None = None
    performance: Performance = field(default_factory=Performance)
    config: dict[str, Any] | None = None
    memory_total: int | None = None  # bytes of its training device's memory (the node's detail only)
    # [{index, name, memory_total, memory_used, utilization}], in the detail only
    gpus: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Node:
        return _known(
            cls,
            data,
            last_seen=_when(data.get("last_seen")),
            performance=_known(Performance, data.get("performance") or {}),
        )


@dataclass(frozen=True)
class NodeList:
    nodes: list[Node]
    total: int
    active: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NodeList:
        return _known(cls, data, nodes=[Node.from_json(n) for n in data["nodes"]])

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)


# --- training -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeProgress:
    id: str
    status: str
    batch_progress: float = 0.0
    step: int = 0
    loss: float | None = None
    bits_per_byte: float | None = None
    model_hash: str | None = None


@dataclass(frozen=True)
class TrainingStatus:
    """The spec's status body; also what ``training.start`` returns."""

    session_id: str
    status: str
    epoch: int = 0
    total_epochs: int = 0
    loss: float | None = None
    bits_per_byte: float | None = None  # the loss per byte of text: comparable across tokenizers
    accuracy: float | None = None
    step: int = 0
    total_steps: int = 0
    tokens_per_s: float = 0.0
    round: int = 0
    nodes: list[NodeProgress] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        progress = data.get("progress") or {}
        nodes = [_known(NodeProgress, n) for n in data.get("nodes", [])]
        return _known(cls, {**progress, **data}, nodes=nodes)

    @property
    def running(self) -> bool:
        return self.status in ("running", "stopping")


@dataclass(frozen=True)
class Progress(TrainingStatus):
    """One ``training_progress`` event: the session's status when ``node_id`` reported."""

    node_id: str | None = None
    timestamp: datetime | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Progress:
        return dataclasses.replace(cls.from_json(event["data"]), timestamp=_when(event.get("timestamp")))


@dataclass(frozen=True)
class Session:
    id: str
    status: str
    dataset: str
    strategy: str
    epochs: int = 1
    batch_size: int = 0
    learning_rate: float = 0.0
    max_steps: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    final_model: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    # The detail's summary of its rounds in the ledger (decided, committed, failed, diverged,
    # latest_model_hash, and the history URL of the rounds themselves).
    rounds: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Session:
        return _known(cls, data, created_at=_when(data.get("created_at")), finished_at=_when(data.get("finished_at")))


# --- models -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Model:
    id: str
    sha256: str
    size: int
    session: str | None = None
    round: int = 0
    step: int = 0
    created: datetime | None = None
    model_hash: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)
    loaded: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        return _known(cls, data, created=_when(data.get("created")))


@dataclass(frozen=True)
class Sample:
    """Text a model wrote after a prompt (``POST /api/v1/models/{id}/generate``)."""

    model_id: str
    prompt: str
    completion: str
    tokens: int
    seconds: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sample:
        return _known(cls, data)


# --- datasets -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """A prepared dataset: ``source`` read through ``tokenizer`` into token shards."""

    name: str
    status: str
    source: str = ""
    tokenizer: str = "byte"
    vocab_size: int | None = None
    tokens: int = 0
    bytes: int = 0
    train_tokens: int = 0
    val_tokens: int = 0
    shards: int = 0
    tokenizer_sha256: str = ""
    error: str = ""
    created_at: datetime | None = None
    finished_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Dataset:
        return _known(cls, data, created_at=_when(data.get("created_at")), finished_at=_when(data.get("finished_at")))


# --- network ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    bytes: int
    fetches: int
    latency_ms: dict[str, float]


@dataclass(frozen=True)
class Topology:
    session_id: str | None
    pattern: str
    transport: str
    nodes: list[dict[str, Any]]
    edges: list[Edge]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Topology:
        return _known(cls, data, edges=[_known(Edge, e) for e in data["edges"]])


@dataclass(frozen=True)
class NetworkMetrics:
    session_id: str | None
    partition: bool
    nodes: list[dict[str, Any]]
    totals: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NetworkMetrics:
        return _known(cls, data)


@dataclass(frozen=True)
class Discovery:
    discovered: list[str]
    updated: list[str]
    lost: list[str]
    latency_ms: dict[str, float]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Discovery:
        return _known(cls, data)


# --- consensus ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    round_id: str
    session_id: str
    round: int
    committed: bool
    accepted: list[str]
    rejected: list[str]
    votes: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    model_hash: str = ""
    checkpoint: str | None = None
    missing: list[str] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    decided_by: str = ""
    decided_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        return _known(cls, data, decided_at=_when(data.get("decided_at")))


@dataclass(frozen=True)
class History:
    decisions: list[Decision]
    total: int
    limit: int
    offset: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> History:
        return _known(cls, data, decisions=[Decision.from_json(d) for d in data["decisions"]])


@dataclass(frozen=True)
class ConsensusStatus:
    session_id: str
    session_status: str
    round: int | None
    phase: str
    quorum: float
    min_participants: int
    members: list[str]
    nodes_alive: int
    partition: bool
    last_decision: Decision | None = None
    aggregator: dict[str, Any] = field(default_factory=dict)
    round_id: str | None = None
    deadline: datetime | None = None
    proposals: list[dict[str, Any]] = field(default_factory=list)  # the latest round's, with votes so far
    require_operator_approval: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConsensusStatus:
        last = data.get("last_decision")
        return _known(
            cls, data, last_decision=Decision.from_json(last) if last else None, deadline=_when(data.get("deadline"))
        )
