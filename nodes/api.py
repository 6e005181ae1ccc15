"""Node Management (spec): list, create, get, delete."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from ncrsh_site.api import (
    IsStaffOrReadOnly,
    PageQuerySerializer,
    PageSerializer,
    StrictSerializer,
    SwarmApi,
    error_responses,
)
from nodes import selectors, services
from nodes.discovery import network_discover
from nodes.models import NodeStatus
from nodes.services import DEFAULT_CONFIG

# --- Config (request) --------------------------------------------------------------------------
_MODEL, _NETWORK = DEFAULT_CONFIG["model_config"], DEFAULT_CONFIG["network_config"]


class ModelConfigSerializer(StrictSerializer):
    hidden_size = serializers.IntegerField(min_value=8, max_value=16384, default=_MODEL["hidden_size"])
    num_layers = serializers.IntegerField(min_value=1, max_value=256, default=_MODEL["num_layers"])
    num_heads = serializers.IntegerField(min_value=1, max_value=256, default=_MODEL["num_heads"])

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["hidden_size"] % attrs["num_heads"]:
            raise serializers.ValidationError(
                {"hidden_size": [f"must be divisible by num_heads ({attrs['num_heads']})."]}
            )
        return attrs


class NetworkConfigSerializer(StrictSerializer):
    port = serializers.IntegerField(min_value=1, max_value=65535, default=_NETWORK["port"])
    max_peers = serializers.IntegerField(min_value=1, max_value=4096, default=_NETWORK["max_peers"])


class NodeConfigSerializer(StrictSerializer):
    model_config = ModelConfigSerializer(required=False)
    network_config = NetworkConfigSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A missing section takes its defaults, so the stored config is always complete.
        for name in ("model_config", "network_config"):
            if name not in attrs:
                section = self.fields[name]
                attrs[name] = section.run_validation({})
        return attrs


# --- Node (response) ---------------------------------------------------------------------------
class PerformanceSerializer(serializers.Serializer):
    training_speed = serializers.FloatField(allow_null=True)
    memory_usage = serializers.FloatField(allow_null=True)
    network_latency = serializers.FloatField(allow_null=True, help_text="milliseconds")


class NodeOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    address = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=NodeStatus.choices)
    model_hash = serializers.CharField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    performance = PerformanceSerializer(source="*")


class GpuSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="as nvidia-smi numbers it on the host")
    name = serializers.CharField()
    memory_total = serializers.IntegerField(help_text="bytes")
    memory_used = serializers.IntegerField(allow_null=True, required=False, help_text="bytes, at its last heartbeat")
    utilization = serializers.FloatField(
        allow_null=True,
        required=False,
        help_text="busy share of the last sample period (0 to 1), at its last heartbeat",
    )


class NodeDetailOutputSerializer(NodeOutputSerializer):
    config = NodeConfigSerializer()
    memory_total = serializers.IntegerField(
        allow_null=True, help_text="bytes of its training device's memory (sessions are admitted against it)"
    )
    gpus = GpuSerializer(many=True, help_text="the GPUs its worker trains on, as it reported them; empty on a CPU")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# Non-empty: the empty value is allow_blank's (spelled in the schema as its own oneOf branch,
# which must not also match "").
_STATUS_LIST = rf"^({'|'.join(NodeStatus.values)})(,({'|'.join(NodeStatus.values)}))*$"


class NodeListQuerySerializer(PageQuerySerializer):
    # Not strict: unknown query parameters (such as DRF's ?format=) are ignored, as is usual.
    status = serializers.RegexField(
        _STATUS_LIST,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"comma-separated: {', '.join(NodeStatus.values)}; empty or absent: all",
        error_messages={"invalid": f"expected a comma-separated list of {', '.join(NodeStatus.values)}."},
    )

    def validate_status(self, value: str) -> list[str]:
        return value.split(",") if value else []


class NodeListOutputSerializer(PageSerializer):
    nodes = NodeOutputSerializer(many=True)
    active = serializers.IntegerField(help_text="of those, alive (active, training or idle)")


class NodeCreateInputSerializer(StrictSerializer):
    config = NodeConfigSerializer(required=False)


class NodeCollectionApi(SwarmApi):
    permission_classes = (permissions.IsAuthenticated, IsStaffOrReadOnly)

    @extend_schema(
        operation_id="nodes_list",
        parameters=[NodeListQuerySerializer],
        responses={200: NodeListOutputSerializer, **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        """List all nodes in the swarm

        A page of the nodes, optionally of some statuses, with the counts of all and of the active ones.
        """
        query = NodeListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        nodes = selectors.node_list(statuses=query.validated_data.get("status", ()))
        total, active = selectors.node_counts(nodes)
        page = nodes.only(*selectors.NODE_LIST_FIELDS)[query.window]
        body = {
            "nodes": [selectors.node_row(node) for node in page],
            "active": active,
            **query.links(request, total=total),
        }
        return Response(body)

    @extend_schema(
        operation_id="nodes_create",
        request=NodeCreateInputSerializer,
        responses={201: NodeDetailOutputSerializer, **error_responses(400, 403, 415)},
    )
    def post(self, request: Request) -> Response:
        """Create a new swarm node (staff)

        A pending node with its configuration, for `ncrsh worker --node <id>` to claim.
        """
        body = NodeCreateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        config = body.validated_data.get("config") or DEFAULT_CONFIG
        node = services.node_create(config=config)
        return Response(NodeDetailOutputSerializer(node).data, status=status.HTTP_201_CREATED)


class NodeDetailApi(SwarmApi):
    permission_classes = (permissions.IsAuthenticated, IsStaffOrReadOnly)

    @extend_schema(operation_id="nodes_retrieve", responses={200: NodeDetailOutputSerializer, **error_responses(404)})
    def get(self, request: Request, node_id: str) -> Response:
        """Get detailed node information"""
        return Response(NodeDetailOutputSerializer(selectors.node_get(node_id=node_id)).data)

    @extend_schema(operation_id="nodes_destroy", responses={204: None, **error_responses(403, 404, 409)})
    def delete(self, request: Request, node_id: str) -> Response:
        """Remove node from swarm (staff)

        CONFLICT while the node trains in a running session.
        """
        services.node_delete(node_id=node_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DiscoverOutputSerializer(serializers.Serializer):
    discovered = serializers.ListField(child=serializers.CharField(), help_text="answered, were not registered")
    updated = serializers.ListField(child=serializers.CharField(), help_text="answered, now active")
    lost = serializers.ListField(child=serializers.CharField(), help_text="were alive, did not answer: offline")
    latency_ms = serializers.DictField(child=serializers.FloatField(), help_text="round trip per node")


class NetworkDiscoverApi(SwarmApi):
    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(
        operation_id="network_discover", request=None, responses={200: DiscoverOutputSerializer, **error_responses(403)}
    )
    def post(self, request: Request) -> Response:
        """Trigger peer discovery (staff)

        Ping every node; those that do not answer in time are marked offline.
        """
        return Response(network_discover())


# --- Network Operations: topology and metrics --------------------------------------------------
class LatencySerializer(serializers.Serializer):
    last = serializers.FloatField()
    mean = serializers.FloatField()


class TopologyNodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=NodeStatus.choices)
    address = serializers.CharField(allow_null=True)
    member = serializers.BooleanField(help_text="takes part in the session")


class EdgeSerializer(serializers.Serializer):
    # The wire name is the graph's own; a declared field named `source` is fine at run time.
    source = serializers.CharField(help_text="the node whose updates travel along the edge")  # type: ignore[assignment]
    target = serializers.CharField(help_text="the node that fetched them")
    bytes = serializers.IntegerField()
    fetches = serializers.IntegerField()
    latency_ms = LatencySerializer(help_text="time each fetch of an update took")


class TopologySerializer(PageSerializer):
    session_id = serializers.CharField(allow_null=True)
    pattern = serializers.CharField(help_text="all_to_all: every member fetches every other member's update")
    transport = serializers.ChoiceField(choices=["memory", "redis"])
    nodes = TopologyNodeSerializer(many=True, help_text="a page of the members and the other alive nodes, by id")
    edges = EdgeSerializer(many=True, help_text="the edges into the page's nodes")


class StatsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    mean = serializers.FloatField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True, help_text="estimated from the histogram")
    p99 = serializers.FloatField(allow_null=True, help_text="estimated from the histogram")


class NodeNetworkSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=NodeStatus.choices)
    bytes_sent = serializers.IntegerField()
    bytes_received = serializers.IntegerField()
    latency_ms = StatsSerializer(help_text="fetches of peers' updates, since the node joined")
    round_seconds = StatsSerializer()
    control_plane_latency_ms = serializers.FloatField(allow_null=True)
    partition = serializers.BooleanField(help_text="its last round saw fewer than a majority of the members")


class NetworkTotalsSerializer(serializers.Serializer):
    bytes_sent = serializers.IntegerField()
    bytes_received = serializers.IntegerField()
    latency_ms = StatsSerializer()


class NetworkMetricsSerializer(PageSerializer):
    session_id = serializers.CharField(allow_null=True)
    partition = serializers.BooleanField()
    nodes = NodeNetworkSerializer(many=True, help_text="a page of the members and the other alive nodes, by id")
    totals = NetworkTotalsSerializer(help_text="over all of them, not only the page")
