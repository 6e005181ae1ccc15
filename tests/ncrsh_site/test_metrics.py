from __future__ import annotations

import re

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from nodes.models import Node, NodeStatus

pytestmark = pytest.mark.django_db


def _gauge(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def test_node_gauges_follow_the_database() -> None:
    before = Client().get("/metrics").content.decode()
    assert (_gauge(before, "swarm_nodes_total"), _gauge(before, "swarm_nodes_active")) == (0, 0)
    Node.objects.create(status=NodeStatus.ACTIVE)
    Node.objects.create(status=NodeStatus.TRAINING)
    Node.objects.create(status=NodeStatus.OFFLINE)
    after = Client().get("/metrics").content.decode()
    assert (_gauge(after, "swarm_nodes_total"), _gauge(after, "swarm_nodes_active")) == (3, 2)
    assert "# TYPE swarm_nodes_active gauge" in after


def test_a_metrics_token_closes_metrics_to_scrapers_without_it(settings: Settings) -> None:
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    for authorization in ("", "Bearer wrong", "Basic s3cret-scrape-token"):
        refused = Client().get("/metrics", headers={"Authorization": authorization} if authorization else {})
        assert refused.status_code == 401
        assert refused.json()["error"]["message"] == "NOT_AUTHENTICATED"
        assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    allowed = Client().get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert allowed.status_code == 200
    assert "swarm_nodes_total" in allowed.content.decode()
