"""The OpenAPI document and Swagger UI are public (documentation is not a secret); the operations
they describe still need their tokens."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from drf_spectacular.validation import validate_schema

from consensus import services as consensus_services
from ncrsh_site import events
from ncrsh_site.events import EVENT_TYPES
from nodes import services as node_services
from nodes.models import Node
from tests.support.events import event_validator
from tests.support.services import plan_config
from training.models import TrainingSession

pytestmark = pytest.mark.django_db


def test_anyone_reads_a_valid_openapi_document_of_every_operation() -> None:
    response = Client().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    document = json.loads(response.content)
    validate_schema(document)  # against the OpenAPI 3 JSON schema
    assert document["openapi"].startswith("3.")
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {"nodes_list", "training_start", "consensus_vote", "models_export", "network_metrics"} <= operations
    assert Client().get("/api/v1/docs/").status_code == 200
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            # Its own words (the method's docstring), not a base class's docstring.
            assert op.get("summary"), f"{method.upper()} {path} has no summary"
            assert "Base of the API" not in op.get("description", "")
            assert "Throttle right after" not in op.get("description", "")


def test_the_operations_still_need_a_token() -> None:
    assert Client().get("/api/v1/nodes").status_code == 401


def test_the_document_describes_every_event_and_the_services_publish_what_it_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = json.loads(Client().get("/api/v1/schema/?format=json").content)
    assert set(document["components"]["schemas"]["Event"]["discriminator"]["mapping"]) == set(EVENT_TYPES)
    published: list[dict[str, Any]] = []

    def capture(type_: str, data: Any) -> None:
        published.append({"type": type_, "data": json.loads(json.dumps(data)), "timestamp": events.timestamp()})

    for module in (node_services, consensus_services):
        monkeypatch.setattr(module, "publish_on_commit", capture)
    node_services.node_register(node_id="node_a", address="host/cpu")
    node_services.node_register(node_id="node_b", address="host/cpu")
    node_services.node_register(node_id="node_c", address="host/cpu")
    Node.objects.update(last_seen=timezone.now() - timedelta(hours=1))
    node_services.node_sweep_offline()  # three at once: the summary shape
    node_services.node_register(node_id="node_a", address="host/cpu")
    Node.objects.filter(id="node_a").update(last_seen=timezone.now() - timedelta(hours=1))
    node_services.node_sweep_offline()  # one: the node's own shape
    session = TrainingSession.objects.create(
        dataset="x", strategy="diloco", batch_size=1, learning_rate=0.1, config=plan_config(["node_a", "node_b"])
    )
    consensus_services.ledger_record(
        session_id=session.id, index=0, members=["node_a", "node_b"], base_hash="sha256:0",
        proposers=["node_a", "node_b"],
        votes=[{"voter": "node_a", "proposal": "node_b", "approve": True, "reason": ""}],
        decision={"committed": True, "accepted": ["node_b"], "rejected": [], "approvals": {"node_b": 1},
                  "rejections": {}, "reason": ""},
        model_hash="sha256:1", node_id="node_a",
    )  # fmt: skip
    types = [e["type"] for e in published]
    assert {"node_joined", "node_left", "consensus_vote", "consensus_decision", "model_update"} <= set(types)
    validator = event_validator(document)
    for event in published:
        assert not list(validator.iter_errors(event)), event
    wrong = {"type": "model_update", "data": {"session_id": session.id}, "timestamp": events.timestamp()}
    assert list(validator.iter_errors(wrong))  # a payload the document does not describe is caught
