"""Network Operations: what the nodes record of their exchange, as topology, metrics and Prometheus."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from consensus.models import Proposal, Round, Tally
from consensus.services import ledger_record, vote_cast
from nodes.models import Node, NodeStatus
from nodes.network import LATENCY_BUCKETS_S, cumulative, observe, quantile
from nodes.services import network_record
from tests.support.services import plan_config, promtool_check
from training.models import NodeRun, RunStatus, TrainingSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def session() -> TrainingSession:
    for node_id in ("node_a", "node_b", "node_c"):
        Node.objects.create(id=node_id, status=NodeStatus.TRAINING)
    return a_session(["node_a", "node_b", "node_c"])


def a_session(members: list[str]) -> TrainingSession:
    return TrainingSession.objects.create(
        dataset="builtin:pystdlib", strategy="diloco", batch_size=8, learning_rate=0.01, config=plan_config(members)
    )


def a_round(session: TrainingSession, node_id: str, *, latency_s: float, partition: bool = False) -> None:
    peers = [m for m in session.config["members"] if m != node_id]
    network_record(
        node_id=node_id,
        session_id=session.id,
        sent=1000,
        received=2000,
        fetched=dict.fromkeys(peers, (1000, latency_s)),
        round_seconds=0.8,
        partition=partition,
    )


def test_histogram_buckets_count_values_at_or_below_each_bound() -> None:
    histogram = None
    for value in (0.0005, 0.003, 0.003, 20.0):
        histogram = observe(histogram, value, LATENCY_BUCKETS_S)
    assert histogram is not None
    buckets = dict(cumulative(histogram, LATENCY_BUCKETS_S))
    assert (buckets["0.0005"], buckets["0.0025"], buckets["0.005"], buckets["10.0"], buckets["+Inf"]) == (1, 1, 3, 3, 4)
    assert histogram["min"] == 0.0005
    assert histogram["max"] == 20.0
    # The median lies in the (0.0025, 0.005] bucket; the largest value is past every bound.
    median = quantile(histogram, LATENCY_BUCKETS_S, 0.5)
    assert median is not None
    assert 0.0025 < median <= 0.005
    assert quantile(histogram, LATENCY_BUCKETS_S, 1.0) == 20.0


def test_topology_has_an_edge_per_fetched_peer_with_its_bytes_and_latency(
    session: TrainingSession, member_client: APIClient
) -> None:
    a_round(session, "node_a", latency_s=0.002)
    a_round(session, "node_a", latency_s=0.004)
    a_round(session, "node_b", latency_s=0.010)
    body = member_client.get("/api/v1/network/topology").json()
    assert body["session_id"] == session.id
    assert {n["id"] for n in body["nodes"]} == {"node_a", "node_b", "node_c"}
    edges = {(e["source"], e["target"]): e for e in body["edges"]}
    assert set(edges) == {("node_b", "node_a"), ("node_c", "node_a"), ("node_a", "node_b"), ("node_c", "node_b")}
    assert edges["node_b", "node_a"]["bytes"] == 2000
    assert edges["node_b", "node_a"]["fetches"] == 2
    assert edges["node_b", "node_a"]["latency_ms"] == pytest.approx({"last": 4.0, "mean": 3.0})


def test_a_new_session_starts_a_new_exchange_pattern(session: TrainingSession, member_client: APIClient) -> None:
    a_round(session, "node_a", latency_s=0.002)
    later = a_session(["node_a"])
    assert member_client.get("/api/v1/network/topology").json()["edges"] == []
    assert member_client.get(f"/api/v1/network/topology?session={session.id}").json()["edges"] != []
    assert member_client.get(f"/api/v1/network/topology?session={later.id}").json()["session_id"] == later.id


def test_metrics_give_traffic_latency_and_partition_per_node(
    session: TrainingSession, member_client: APIClient
) -> None:
    a_round(session, "node_a", latency_s=0.002)
    a_round(session, "node_b", latency_s=0.020, partition=True)
    body = member_client.get("/api/v1/network/metrics").json()
    nodes = {n["id"]: n for n in body["nodes"]}
    assert (nodes["node_a"]["bytes_sent"], nodes["node_a"]["bytes_received"]) == (1000, 2000)
    assert nodes["node_a"]["latency_ms"]["count"] == 2
    assert nodes["node_a"]["latency_ms"]["mean"] == pytest.approx(2.0)
    assert nodes["node_c"]["latency_ms"]["count"] == 0
    assert nodes["node_a"]["round_seconds"]["mean"] == pytest.approx(0.8)
    assert (nodes["node_a"]["partition"], nodes["node_b"]["partition"]) == (False, True)
    assert body["partition"] is True
    assert body["totals"]["bytes_sent"] == 2000
    assert body["totals"]["latency_ms"]["max"] == pytest.approx(20.0)


def test_network_endpoints_without_any_session_list_the_alive_nodes(member_client: APIClient) -> None:
    Node.objects.create(id="node_a", status=NodeStatus.ACTIVE)
    topology = member_client.get("/api/v1/network/topology").json()
    assert (topology["session_id"], [n["id"] for n in topology["nodes"]], topology["edges"]) == (None, ["node_a"], [])
    assert member_client.get("/api/v1/network/metrics").json()["partition"] is False


def test_an_unknown_session_is_404(member_client: APIClient) -> None:
    response = member_client.get("/api/v1/network/metrics?session=training_nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


def test_network_endpoints_need_a_token() -> None:
    assert APIClient().get("/api/v1/network/topology").status_code == 401


def scrape() -> str:
    return Client().get("/metrics").content.decode()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of ``name`` with exactly these labels (in any order), or None."""
    for match in re.finditer(rf"^{re.escape(name)}(?:{{(.*)}})? (\S+)$", text, re.MULTILINE):
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if found == labels:
            return float(match.group(2))
    return None


def _two_nodes_at_work(session: TrainingSession) -> None:
    for node_id, loss, tokens, latency_s in (("node_a", 3.25, 900.0, 0.003), ("node_b", 2.75, 100.0, 0.02)):
        NodeRun.objects.create(
            session=session, node_id=node_id, rank=0, status=RunStatus.TRAINING, loss=loss, tokens_per_s=tokens
        )
        a_round(session, node_id, latency_s=latency_s)
    ledger_record(
        session_id=session.id,
        index=0,
        members=session.config["members"],
        base_hash="sha256:0",
        proposers=["node_a", "node_b"],
        votes=[
            {"voter": "node_a", "proposal": "node_b", "approve": False, "reason": "norm"},
            {"voter": "node_b", "proposal": "node_a", "approve": True, "reason": ""},
        ],
        decision={
            "committed": True,
            "accepted": ["node_a"],
            "rejected": ["node_b"],
            "approvals": {"node_a": 1},
            "rejections": {"node_b": 1},
            "reason": "",
        },
        model_hash="sha256:1",
        node_id="node_a",
    )


def test_prometheus_reports_the_fleet_loss_traffic_latency_and_votes_from_the_database(
    session: TrainingSession,
) -> None:
    before = scrape()
    assert sample(before, "swarm_training_loss", session=session.id) is None
    assert sample(before, "swarm_consensus_votes_total", outcome="reject") == 0
    _two_nodes_at_work(session)
    after = scrape()
    # By default one series per session and one for the fleet, whatever the number of nodes.
    assert sample(after, "swarm_training_loss", session=session.id) == 3.0
    assert sample(after, "swarm_training_tokens_per_second", session=session.id) == 1000.0
    assert sample(after, "swarm_exchange_bytes_total", direction="sent") == 2000
    assert sample(after, "swarm_network_latency_bucket", le="0.005") == 2  # node_a's two fetches
    assert sample(after, "swarm_network_latency_bucket", le="0.025") == 4
    assert sample(after, "swarm_network_latency_count") == 4
    assert sample(after, "swarm_round_duration_seconds_count") == 2
    assert 'node="' not in after
    assert sample(after, "swarm_consensus_votes_total", outcome="approve") == 1
    assert sample(after, "swarm_consensus_votes_total", outcome="reject") == 1
    assert sample(after, "swarm_consensus_rounds_total", outcome="committed") == 1
    assert "# TYPE swarm_network_latency histogram" in after
    assert "# TYPE swarm_consensus_votes_total counter" in after


def test_prometheus_reports_each_node_when_asked(session: TrainingSession, settings: Settings) -> None:
    settings.METRICS_PER_NODE = True
    _two_nodes_at_work(session)
    after = scrape()
    assert sample(after, "swarm_training_loss", session=session.id, node="node_a") == 3.25
    assert sample(after, "swarm_training_tokens_per_second", session=session.id, node="node_b") == 100.0
    assert sample(after, "swarm_exchange_bytes_total", node="node_a", direction="sent") == 1000
    assert sample(after, "swarm_network_latency_bucket", node="node_a", le="0.005") == 2
    assert sample(after, "swarm_network_latency_count", node="node_b") == 2
    assert sample(after, "swarm_round_duration_seconds_count", node="node_a") == 1
    assert sample(after, "swarm_training_loss", session=session.id) is None


def test_the_vote_counters_survive_a_flushed_tally_and_only_go_up(session: TrainingSession) -> None:
    _two_nodes_at_work(session)
    Tally.objects.all().delete()  # as a flushed table, or a database from before the tallies
    another = a_session(["node_a", "node_b"])
    vote_cast(proposal=_a_proposal(another), voter="operator:ops", approve=False)
    after = scrape()
    assert sample(after, "swarm_consensus_votes_total", outcome="reject") == 2  # recounted from the ledger
    TrainingSession.objects.filter(id=session.id).delete()  # its votes go; the counter does not
    assert sample(scrape(), "swarm_consensus_votes_total", outcome="reject") == 2


def _a_proposal(session: TrainingSession) -> Proposal:
    round_ = Round.objects.create(session=session, index=0, members=session.config["members"])
    return Proposal.objects.create(round=round_, node_id="node_a")


def test_a_scrape_within_the_cache_window_is_served_the_last_exposition(
    session: TrainingSession, settings: Settings
) -> None:
    settings.METRICS_CACHE_S = 300
    first = scrape()
    Node.objects.create(id="node_new", status=NodeStatus.ACTIVE)
    assert sample(scrape(), "swarm_nodes_total") == sample(first, "swarm_nodes_total")
    settings.METRICS_CACHE_S = 0
    assert sample(scrape(), "swarm_nodes_total") == sample(first, "swarm_nodes_total") + 1  # type: ignore[operator]


def test_promtool_accepts_the_exposition(session: TrainingSession) -> None:
    NodeRun.objects.create(
        session=session, node_id="node_a", rank=0, status=RunStatus.TRAINING, loss=3.25, tokens_per_s=900.0
    )
    a_round(session, "node_a", latency_s=0.003)
    assert promtool_check(scrape().encode()) == ""
