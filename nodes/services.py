from __future__ import annotations

from typing import Any

from django.db import transaction

from nodes.models import Node
from nodes.selectors import node_get


@transaction.atomic
def node_create(*, config: dict[str, Any]) -> Node:
    """Register a node that a worker will claim (``ncrsh worker --node <id>``); it starts pending."""
    return Node.objects.create(config=config)


@transaction.atomic
def node_delete(*, node_id: str) -> None:
    node_get(node_id=node_id).delete()
