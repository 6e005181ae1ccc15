"""The event feed's payloads in the OpenAPI document: an ``Event`` component (one of a schema per
event type, told apart by ``type``), added by a drf-spectacular postprocessing hook. The
WebSocket itself is not an OpenAPI operation; the document's description points to it."""

from __future__ import annotations

from typing import Any

from ncrsh_site.events import EVENT_TYPES


def _text(nullable: bool = False) -> dict[str, Any]:
    return {"type": "string", "nullable": True} if nullable else {"type": "string"}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": sorted(required), "properties": {**required, **(optional or {})}}


_NUMBER, _INTEGER, _BOOLEAN = {"type": "number"}, {"type": "integer"}, {"type": "boolean"}
_TEXTS = {"type": "array", "items": {"type": "string"}}
_ROUND = {"session_id": _text(), "round_id": _text(), "round": _INTEGER}
_NODE = {"node_id": _text(), "address": _text(nullable=True), "status": {"$ref": "#/components/schemas/NodeStatusEnum"}}

# The ``data`` of each event type, as the services publish it.
PAYLOADS: dict[str, dict[str, Any]] = {
    # With session_id: admitted to that running session, a member from ``round`` on.
    "node_joined": _object(_NODE, {"reason": _text(), "session_id": _text(), "round": _INTEGER, "members": _TEXTS}),
    "node_left": {
        "oneOf": [
            _object({**_NODE, "reason": _text()}),
            # A sweep that finds several nodes silent at once announces them together.
            _object({"node_ids": _TEXTS, "count": _INTEGER, "status": _NODE["status"], "reason": _text()}),
        ]
    },
    "training_started": _object(
        {"session_id": _text(), "status": _text(), "dataset": _text(), "strategy": _text(), "nodes": _TEXTS}
    ),
    "training_progress": {
        "allOf": [{"$ref": "#/components/schemas/TrainingStatus"}, _object({"node_id": _text()})],
    },
    "training_stopped": _object(
        {"session_id": _text(), "status": _text(), "metrics": {"type": "object"}, "error": _text()}
    ),
    "consensus_vote": _object(
        {
            **_ROUND,
            "proposal_id": _text(),
            "proposal": _text(),
            "voter": _text(),
            "approve": _BOOLEAN,
            "reason": _text(),
        }
    ),
    "consensus_decision": _object(
        {**_ROUND, "committed": _BOOLEAN, "accepted": _TEXTS, "rejected": _TEXTS, "reason": _text()}
    ),
    "model_update": _object({**_ROUND, "model_hash": _text(), "nodes": _TEXTS}),
    "dataset_progress": _object({"name": _text(), "tokens": _INTEGER, "bytes": _INTEGER, "tokens_per_s": _NUMBER}),
    "dataset_prepared": _object({"name": _text(), "status": _text(), "error": _text()}, {"tokens": _INTEGER}),
}


def component_name(event_type: str) -> str:
    return "".join(part.title() for part in event_type.split("_")) + "Event"


def add_events(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the Event component and one per event type."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for event_type in EVENT_TYPES:
        schemas[component_name(event_type)] = _object(
            {
                "type": {"type": "string", "enum": [event_type]},
                "data": PAYLOADS[event_type],
                "timestamp": {"type": "string", "format": "date-time"},
            }
        )
    names = [component_name(t) for t in EVENT_TYPES]
    schemas["Event"] = {
        "description": "A message of the WebSocket feed at /api/v1/ws (?types= subscribes to some types).",
        "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in names],
        "discriminator": {
            "propertyName": "type",
            "mapping": {t: f"#/components/schemas/{n}" for t, n in zip(EVENT_TYPES, names, strict=True)},
        },
    }
    return result
