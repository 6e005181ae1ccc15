"""Consensus Operations (spec): the ledger's history and status. (The vote API is to come.)"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from consensus import selectors
from ncrsh_site.api import SwarmApi, error_responses
from nodes.models import ALIVE_STATUSES, Node
from training.selectors import session_current


class HistoryQuerySerializer(serializers.Serializer):
    session = serializers.CharField(required=False, allow_blank=True, help_text="a session id; empty or absent: all")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)


class DecisionSerializer(serializers.Serializer):
    round_id = serializers.CharField()
    session_id = serializers.CharField()
    round = serializers.IntegerField()
    status = serializers.CharField()
    committed = serializers.BooleanField()
    accepted = serializers.ListField(child=serializers.CharField())
    rejected = serializers.ListField(child=serializers.CharField())
    votes = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    reasons = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    aggregator = serializers.JSONField()
    model_hash = serializers.CharField()
    reason = serializers.CharField()
    decided_by = serializers.CharField()
    decided_at = serializers.DateTimeField()


class HistorySerializer(serializers.Serializer):
    decisions = DecisionSerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class ConsensusStatusSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    session_status = serializers.CharField()
    round = serializers.IntegerField(allow_null=True)
    phase = serializers.CharField()
    quorum = serializers.FloatField()
    min_participants = serializers.IntegerField()
    aggregator = serializers.JSONField()
    members = serializers.ListField(child=serializers.CharField())
    nodes_alive = serializers.IntegerField()
    partition = serializers.BooleanField()
    last_decision = DecisionSerializer(allow_null=True)


class ConsensusHistoryApi(SwarmApi):
    @extend_schema(
        operation_id="consensus_history",
        parameters=[HistoryQuerySerializer],
        responses={200: HistorySerializer, **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        query = HistoryQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        limit, offset = query.validated_data["limit"], query.validated_data["offset"]
        decisions = selectors.decision_history(session_id=query.validated_data.get("session") or None)
        page = [selectors.decision_summary(d) for d in decisions[offset : offset + limit]]
        body = {"decisions": page, "total": decisions.count(), "limit": limit, "offset": offset}
        return Response(HistorySerializer(body).data)


class ConsensusStatusApi(SwarmApi):
    @extend_schema(operation_id="consensus_status", responses={200: ConsensusStatusSerializer, **error_responses(404)})
    def get(self, request: Request) -> Response:
        session = session_current()
        members = session.config.get("members", [])
        policy = session.config.get("policy", {})
        latest = selectors.round_latest(session_id=session.id)
        alive = Node.objects.filter(id__in=members, status__in=ALIVE_STATUSES).count()
        last = getattr(latest, "decision", None) if latest else None
        body = {
            "session_id": session.id,
            "session_status": session.status,
            "round": latest.index if latest else None,
            "phase": "training" if session.status == "running" else session.status,
            "quorum": policy.get("quorum", 2 / 3),
            "min_participants": policy.get("min_participants") or len(members) // 2 + 1,
            "aggregator": policy.get("aggregator", {}),
            "members": members,
            "nodes_alive": alive,
            "partition": bool(members) and alive < len(members) // 2 + 1,
            "last_decision": selectors.decision_summary(last) if last else None,
        }
        return Response(ConsensusStatusSerializer(body).data)
