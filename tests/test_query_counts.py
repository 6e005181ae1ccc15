"""Every list and status endpoint runs the same number of SQL queries whatever the number of
nodes, sessions, rounds, proposals, votes and checkpoints behind it (no N+1 anywhere), and the
paged ones page."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from consensus.services import ledger_record
from models_store.models import Checkpoint
from nodes.models import Node, NodeStatus
from nodes.services import network_record
from tests.support.services import plan_config
from training.models import NodeRun, RunStatus, SessionStatus, TrainingSession

pytestmark = pytest.mark.django_db

LISTS_AND_STATUS = [
    "/api/v1/nodes",
    "/api/v1/nodes?limit=1000",
    "/api/v1/training/status",
    "/api/v1/training/sessions",
    "/api/v1/training/sessions/{running}",
    "/api/v1/models",
    "/api/v1/datasets",
    "/api/v1/network/topology",
    "/api/v1/network/metrics",
    "/api/v1/consensus/status",
    "/api/v1/consensus/history",
    "/api/v1/consensus/history?session={running}",
    "/metrics",
]


def grow(scale: int) -> str:
    """A fleet ``scale`` times as large in every dimension: nodes (with exchange traffic),
    finished sessions, rounds per session, members (so proposals and votes per round) and
    checkpoints. Returns the running session's id."""
    start = Node.objects.count()
    members = [f"node_{start + i:04d}" for i in range(2 * scale)]
    for node_id in members:
        Node.objects.create(id=node_id, status=NodeStatus.TRAINING)
    running = None
    for s in range(scale):
        last = s == scale - 1
        session = TrainingSession.objects.create(
            dataset="builtin:pystdlib",
            strategy="diloco",
            batch_size=8,
            learning_rate=0.01,
            config=plan_config(members),
            status=SessionStatus.RUNNING if last else SessionStatus.COMPLETED,
        )
        for rank, node_id in enumerate(members):
            NodeRun.objects.create(
                session=session, node_id=node_id, rank=rank, status=RunStatus.TRAINING, loss=2.0, tokens_per_s=10.0
            )
        for index in range(scale):
            a_round(session, index, members)
        Checkpoint.objects.create(
            session=session, filename=f"{session.id}.pt", size=1, sha256="0" * 64, model_hash=f"sha256:{scale - 1}"
        )
        running = session.id
    # Older sessions end: one running at a time.
    TrainingSession.objects.exclude(id=running).update(status=SessionStatus.COMPLETED)
    assert running is not None
    return running


def a_round(session: TrainingSession, index: int, members: list[str]) -> None:
    for node_id in members:
        peers = {m: (100, 0.01) for m in members if m != node_id}
        network_record(
            node_id=node_id,
            session_id=session.id,
            sent=100,
            received=200,
            fetched=peers,
            round_seconds=0.5,
            partition=False,
        )
    for reporter in members:
        ledger_record(
            session_id=session.id,
            index=index,
            members=members,
            base_hash=f"sha256:{index}",
            proposers=members,
            votes=[
                {"voter": v, "proposal": p, "approve": True, "reason": ""} for p in members for v in members if v != p
            ],
            decision={
                "committed": True,
                "accepted": members,
                "rejected": [],
                "approvals": dict.fromkeys(members, len(members) - 1),
                "rejections": {},
                "reason": "",
            },
            model_hash=f"sha256:{index}",
            node_id=reporter,
        )


def queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return len(captured.captured_queries)


def test_every_list_and_status_endpoint_costs_the_same_queries_at_any_size(staff_client: APIClient) -> None:
    running = grow(2)
    small = {
        url: queries(staff_client if url != "/metrics" else Client(), url.format(running=running))
        for url in LISTS_AND_STATUS
    }
    running = grow(5)  # 5x the nodes, sessions, rounds; 2.5x the members, 6x the votes per round
    large = {
        url: queries(staff_client if url != "/metrics" else Client(), url.format(running=running))
        for url in LISTS_AND_STATUS
    }
    assert large == small
    assert max(large.values()) <= 12


def test_list_endpoints_page_and_link_their_pages(staff_client: APIClient) -> None:
    grow(3)
    for url, rows in (
        ("/api/v1/nodes", "nodes"),
        ("/api/v1/training/sessions", "sessions"),
        ("/api/v1/models", "models"),
        ("/api/v1/network/topology", "nodes"),
        ("/api/v1/network/metrics", "nodes"),
        ("/api/v1/consensus/history", "decisions"),
    ):
        first = staff_client.get(f"{url}?limit=2").json()
        assert (len(first[rows]), first["limit"], first["offset"], first["previous"]) == (2, 2, 0, None), url
        assert first["total"] > 2
        second = staff_client.get(first["next"]).json()
        assert second["offset"] == 2
        assert {repr(r) for r in second[rows]}.isdisjoint(repr(r) for r in first[rows]), url
        assert staff_client.get(f"{url}?limit=0").status_code == 400


def test_network_metrics_totals_cover_every_node_not_only_the_page(staff_client: APIClient) -> None:
    grow(3)  # 6 members, each sent 100 bytes in each of 3 rounds of 3 sessions
    body = staff_client.get("/api/v1/network/metrics?limit=1").json()
    assert len(body["nodes"]) == 1
    assert body["totals"]["bytes_sent"] == 6 * 100 * 3 * 3
    assert body["totals"]["latency_ms"]["count"] == 6 * 5 * 3 * 3


def test_the_session_detail_summarises_its_rounds_and_links_the_ledger(staff_client: APIClient) -> None:
    running = grow(3)
    body = staff_client.get(f"/api/v1/training/sessions/{running}").json()
    assert body["rounds"]["decided"] == body["rounds"]["committed"] == 3
    assert body["rounds"]["latest_model_hash"] == "sha256:2"
    history = staff_client.get(body["rounds"]["history"]).json()
    assert history["total"] == 3
    assert {d["session_id"] for d in history["decisions"]} == {running}


def test_sessions_filter_by_status(staff_client: APIClient) -> None:
    running = grow(3)
    body = staff_client.get("/api/v1/training/sessions?status=running").json()
    assert [s["id"] for s in body["sessions"]] == [running]
    assert staff_client.get("/api/v1/training/sessions?status=bogus").status_code == 400
