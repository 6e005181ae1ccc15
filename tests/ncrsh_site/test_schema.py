"""The OpenAPI document and Swagger UI are public (documentation is not a secret); the operations
they describe still need their tokens."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema

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


def test_the_operations_still_need_a_token() -> None:
    assert Client().get("/api/v1/nodes").status_code == 401
