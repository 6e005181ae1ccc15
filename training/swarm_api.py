"""The views under other apps' URLs that need a training session (their URLs stay where the
spec puts them; the code lives here, in the app that owns sessions, so imports go one way):
network topology and metrics, consensus status, and saving a session's model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from consensus import selectors as consensus_selectors
from consensus.api import ConsensusStatusSerializer
from consensus.models import RoundStatus
from engine.config import Policy
from models_store.api import CheckpointSerializer, SaveInputSerializer
from ncrsh_site.api import PageQuerySerializer, PageSerializer, SwarmApi, error_responses
from nodes import selectors as node_selectors
from nodes.api import NetworkMetricsSerializer, TopologySerializer
from nodes.models import ALIVE_STATUSES, Node
from training import selectors, services
from training.models import SessionStatus


class NetworkQuerySerializer(PageQuerySerializer):
    session = serializers.CharField(required=False, help_text="a session id; absent: the running or latest session")


def _network_page(
    request: Request, select: Callable[..., dict[str, Any]], serializer: type[PageSerializer]
) -> Response:
    """``select`` (topology or metrics) for the session asked for, or the running or latest one,
    over a page of the nodes."""
    query = NetworkQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    session = (
        selectors.session_get(session_id=query.validated_data["session"])
        if "session" in query.validated_data
        else selectors.session_latest()
    )
    session_id, members = (session.id, session.members) if session else (None, [])
    body = select(session_id=session_id, members=members, window=query.window)
    return Response(serializer(body | query.links(request, total=body["total"])).data)


class NetworkTopologyApi(SwarmApi):
    @extend_schema(
        operation_id="network_topology",
        parameters=[NetworkQuerySerializer],
        responses={200: TopologySerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        """Get current network topology

        The session's members and the exchange between them, over a page of the nodes.
        """
        return _network_page(request, node_selectors.network_topology, TopologySerializer)


class NetworkMetricsApi(SwarmApi):
    @extend_schema(
        operation_id="network_metrics",
        parameters=[NetworkQuerySerializer],
        responses={200: NetworkMetricsSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        """Get network performance metrics

        A page of the nodes' exchange figures (bytes, fetch latency, round time), with totals over all of them.
        """
        return _network_page(request, node_selectors.network_metrics, NetworkMetricsSerializer)


class ConsensusStatusApi(SwarmApi):
    @extend_schema(operation_id="consensus_status", responses={200: ConsensusStatusSerializer, **error_responses(404)})
    def get(self, request: Request) -> Response:
        """Get consensus protocol status

        The running (or last) session's latest round: its phase, deadline, proposals with the votes so far, the policy
        (quorum, operator approval) and whether the swarm is partitioned.
        """
        session = selectors.session_current()
        plan = session.plan
        # The latest round's members (nodes admitted since join at a later one), else the session's.
        latest = consensus_selectors.round_latest(session_id=session.id)
        members = list(latest.members) if latest is not None else session.members
        alive = Node.objects.filter(id__in=members, status__in=ALIVE_STATUSES).count()
        history = consensus_selectors.decision_history(session_id=session.id)
        last = history.filter(round=latest).first() if latest else None
        running = session.status == SessionStatus.RUNNING
        voting = latest is not None and latest.status == RoundStatus.OPEN and running
        body = {
            "session_id": session.id,
            "session_status": session.status,
            "round": latest.index if latest else None,
            "round_id": latest.public_id if latest else None,
            "phase": "voting" if voting else "training" if running else session.status,
            "deadline": latest.deadline if latest else None,
            "proposals": [consensus_selectors.proposal_summary(p) for p in latest.proposals.all()] if latest else [],
            "quorum": plan.policy.quorum,
            "require_operator_approval": plan.policy.require_operator_approval,
            "min_participants": plan.policy.required(len(members)),
            "aggregator": dataclasses.asdict(plan.policy.aggregator),
            "members": members,
            "nodes_alive": alive,
            "partition": bool(members) and alive < Policy.majority(len(members)),
            "last_decision": consensus_selectors.decision_summary(last) if last else None,
        }
        return Response(ConsensusStatusSerializer(body).data)


class ModelSaveApi(SwarmApi):
    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(
        operation_id="models_save",
        request=SaveInputSerializer,
        responses={201: CheckpointSerializer, **error_responses(400, 403, 404, 415)},
    )
    def post(self, request: Request) -> Response:
        """Save current model state (staff)

        Register the running (or last) session's current global model as a checkpoint.
        """
        body = SaveInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session_id = body.validated_data.get("session_id")
        session = selectors.session_get(session_id=session_id) if session_id else selectors.session_current()
        checkpoint = services.session_snapshot(session=session)
        return Response(CheckpointSerializer(checkpoint).data, status=status.HTTP_201_CREATED)
