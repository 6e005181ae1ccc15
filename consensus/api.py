"""Consensus Operations (spec): the ledger's history and status, and votes in open rounds."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from consensus import selectors, services
from engine.quorum import OPERATOR
from ncrsh_site.api import PageQuerySerializer, PageSerializer, StrictSerializer, SwarmApi, error_responses
from nodes.models import Node


class HistoryQuerySerializer(PageQuerySerializer):
    session = serializers.CharField(required=False, allow_blank=True, help_text="a session id; empty or absent: all")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=50)


class VoteCountSerializer(serializers.Serializer):
    approve = serializers.IntegerField()
    reject = serializers.IntegerField()


class OperatorVoteSerializer(serializers.Serializer):
    voter = serializers.CharField()
    approve = serializers.BooleanField()
    reason = serializers.CharField()


class ProposalSerializer(serializers.Serializer):
    proposal_id = serializers.CharField()
    node_id = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["pending", "accepted", "rejected"])
    norm = serializers.FloatField(allow_null=True)
    samples = serializers.IntegerField(allow_null=True)
    loss = serializers.FloatField(allow_null=True, help_text="the proposer's local training loss")
    votes = VoteCountSerializer()
    operator_votes = OperatorVoteSerializer(many=True)


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
    proposals = ProposalSerializer(many=True)
    members = serializers.ListField(
        child=serializers.CharField(), help_text="the round's members: quorum and majority are counted over them"
    )
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="members without a proposal in time (stragglers, nodes gone)"
    )
    aggregator = serializers.JSONField()
    model_hash = serializers.CharField()
    checkpoint = serializers.CharField(allow_null=True, help_text="a saved checkpoint of the resulting model")
    reason = serializers.CharField()
    confirmed_by = serializers.ListField(
        child=serializers.CharField(), help_text="nodes that reported ending the round with model_hash"
    )
    diverged = serializers.DictField(
        child=serializers.CharField(), help_text="nodes that reported another model after the round: its hash"
    )
    decided_by = serializers.CharField()
    decided_at = serializers.DateTimeField()


class HistorySerializer(PageSerializer):
    decisions = DecisionSerializer(many=True, help_text="newest first")


class ConsensusStatusSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    session_status = serializers.CharField()
    round = serializers.IntegerField(allow_null=True)
    round_id = serializers.CharField(allow_null=True)
    phase = serializers.ChoiceField(
        choices=["training", "voting", "stopping", "stopped", "completed", "failed"],
        help_text="voting: the latest round is open (proposals in, no decision yet)",
    )
    deadline = serializers.DateTimeField(allow_null=True, help_text="when the open round stops waiting")
    proposals = ProposalSerializer(many=True, help_text="the latest round's, with the votes so far")
    quorum = serializers.FloatField()
    require_operator_approval = serializers.BooleanField()
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
        """Get consensus decision history

        The ledger's decisions, newest first, of one session or all: each round's proposals, votes, accepted and
        rejected updates, the resulting model hash and which nodes confirmed it.
        """
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        decisions = selectors.decision_history(session_id=query.validated_data.get("session") or None)
        page = [selectors.decision_summary(d) for d in decisions[query.window]]
        body = {"decisions": page, **query.links(request, total=decisions.count())}
        return Response(HistorySerializer(body).data)


class VoteInputSerializer(StrictSerializer):
    proposal_id = serializers.CharField(required=False, max_length=200, help_text="as listed by status or history")
    round_id = serializers.CharField(
        required=False, max_length=200, help_text="with node_id: the proposal of that node in the round"
    )
    node_id = serializers.CharField(required=False, max_length=200, help_text="the proposing node")
    approve = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        by_id = "proposal_id" in attrs
        by_round = "round_id" in attrs and "node_id" in attrs
        if by_id == by_round or (by_id and ("round_id" in attrs or "node_id" in attrs)):
            raise serializers.ValidationError(
                {"non_field_errors": ["give proposal_id, or round_id and node_id (not both)."]}
            )
        return attrs


class VoteSerializer(serializers.Serializer):
    proposal_id = serializers.CharField()
    proposal = serializers.CharField(help_text="the proposing node")
    voter = serializers.CharField(help_text="operator:<username>, or a node id")
    approve = serializers.BooleanField()
    reason = serializers.CharField()


class VoteOutputSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    round_id = serializers.CharField()
    round = serializers.IntegerField()
    vote = VoteSerializer()


def voter_for(request: Request) -> str:
    """An operator (staff) votes as operator:<username>; a node, with the credentials of the
    user named after it, votes as itself and as nothing else."""
    username = request.user.get_username()
    if request.user.is_staff:
        return f"{OPERATOR}{username}"
    if Node.objects.filter(id=username).exists():
        return username
    raise exceptions.PermissionDenied("Only operators (staff) and nodes (a user named after its node id) vote.")


class ConsensusVoteApi(SwarmApi):
    @extend_schema(
        operation_id="consensus_vote",
        request=VoteInputSerializer,
        responses={201: VoteOutputSerializer, **error_responses(400, 403, 404, 409, 415)},
    )
    def post(self, request: Request) -> Response:
        """Submit vote for model update

        An operator's approval or rejection of a proposal of an open round, by proposal_id or by round_id and node_id.
        Under require_operator_approval a proposal needs one to be accepted.
        """
        body = VoteInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        voter = voter_for(request)
        proposal = selectors.proposal_find(
            proposal_id=data.get("proposal_id"), round_id=data.get("round_id"), node_id=data.get("node_id")
        )
        vote = services.vote_cast(proposal=proposal, voter=voter, approve=data["approve"], reason=data["reason"])
        round_ = proposal.round
        out = {
            "session_id": round_.session_id,
            "round_id": round_.public_id,
            "round": round_.index,
            "vote": services.vote_summary(vote),
        }
        return Response(VoteOutputSerializer(out).data, status=status.HTTP_201_CREATED)
