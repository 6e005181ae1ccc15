"""The Grafana dashboard kept in the repo (docker/grafana) queries only metrics that /metrics
exposes (issue 15): every series it names has samples in a live exposition of a swarm with a
running session, nodes that exchanged updates and a decided round, and that exposition is
promtool-clean."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from consensus.services import ledger_record
from nodes.models import Node, NodeStatus
from nodes.services import network_record
from tests.support.services import plan_config, promtool_check
from training.models import NodeRun, RunStatus, TrainingSession

pytestmark = pytest.mark.django_db
DASHBOARD = Path(__file__).resolve().parents[2] / "docker" / "grafana" / "dashboards" / "ncrsh-swarm.json"
MEMBERS = ["node_a", "node_b"]


def _queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _a_swarm_at_work() -> None:
    session = TrainingSession.objects.create(
        dataset="builtin:pystdlib", strategy="diloco", batch_size=8, learning_rate=0.01, config=plan_config(MEMBERS)
    )
    for rank, node_id in enumerate(MEMBERS):
        Node.objects.create(id=node_id, status=NodeStatus.TRAINING, last_seen=timezone.now())
        NodeRun.objects.create(
            session=session, node_id=node_id, rank=rank, status=RunStatus.TRAINING,
            loss=2.5, bits_per_byte=3.6, tokens_per_s=1000.0, mfu=0.4,
        )  # fmt: skip
        peer = next(m for m in MEMBERS if m != node_id)
        network_record(
            node_id=node_id, session_id=session.id, sent=1000, received=1000, fetched={peer: (1000, 0.01)},
            round_seconds=0.5, partition=False,
        )  # fmt: skip
    ledger_record(
        session_id=session.id, index=0, members=MEMBERS, base_hash="xxh3:0", proposers=MEMBERS,
        votes=[{"voter": v, "proposal": p, "approve": True, "reason": ""} for v in MEMBERS for p in MEMBERS if v != p],
        decision={
            "round_index": 0, "accepted": MEMBERS, "rejected": [], "approvals": dict.fromkeys(MEMBERS, 1),
            "rejections": dict.fromkeys(MEMBERS, 0), "committed": True, "reason": "2 of 2 proposals accepted",
        },
        model_hash="xxh3:1", node_id=MEMBERS[0],
    )  # fmt: skip


def test_every_metric_the_dashboard_queries_has_samples_in_the_exposition() -> None:
    queries = _queries()
    assert len(queries) >= 14  # fleet, loss, bpb, tokens/s, MFU, rounds, overhead, bytes, votes, latency
    named = {name for query in queries for name in re.findall(r"\bswarm_[a-z_]+\b", query)}
    assert {"swarm_training_loss", "swarm_training_mfu", "swarm_consensus_votes_total"} <= named
    _a_swarm_at_work()
    exposition = Client().get("/metrics").content
    missing = sorted(n for n in named if not re.search(rf"^{n}(\{{| )", exposition.decode(), re.MULTILINE))
    assert missing == []
    assert promtool_check(exposition) == ""


def test_the_provisioning_points_grafana_at_the_dashboard_and_prometheus() -> None:
    provisioning = DASHBOARD.parents[1] / "provisioning"
    assert "path: /var/lib/grafana/dashboards" in (provisioning / "dashboards" / "ncrsh.yaml").read_text()
    assert "uid: prometheus" in (provisioning / "datasources" / "prometheus.yaml").read_text()
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert {t["datasource"]["uid"] for p in panels for t in p["targets"]} == {"prometheus"}
