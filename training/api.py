"""Training Management (spec): start, status, stop, and the sessions' record."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from consensus import selectors as consensus_selectors
from engine.config import AGGREGATORS, PRESETS, STRATEGIES, WIRE_FORMATS
from ncrsh_site.api import PageQuerySerializer, PageSerializer, StrictSerializer, SwarmApi, error_responses
from training import selectors, services
from training.dispatch import dispatch_run
from training.models import SessionStatus


class ModelConfigInputSerializer(StrictSerializer):
    preset = serializers.ChoiceField(choices=sorted(PRESETS), default="tiny")
    hidden_size = serializers.IntegerField(min_value=8, max_value=16384, required=False)
    num_layers = serializers.IntegerField(min_value=1, max_value=256, required=False)
    num_heads = serializers.IntegerField(min_value=1, max_value=256, required=False)
    seq_len = serializers.IntegerField(min_value=8, max_value=65536, required=False)
    dropout = serializers.FloatField(min_value=0.0, max_value=0.9, required=False)


class TrainingStartInputSerializer(StrictSerializer):
    dataset = serializers.CharField(
        max_length=512,
        help_text="a prepared dataset's name (GET /api/v1/datasets), or builtin:pystdlib, file:<path or glob>,"
        " <folder in NCRSH_DATA_DIR>, huggingface:<name> (prepared by the nodes on first use)",
    )
    tokenizer = serializers.CharField(
        max_length=512,
        default="byte",
        help_text="for a raw dataset spec: byte, bpe (trained on it), hf:<name>, file:<tokenizer.json>;"
        " a prepared dataset has its own",
    )
    vocab_size = serializers.IntegerField(min_value=257, max_value=1 << 20, required=False, help_text="bpe's")
    epochs = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    batch_size = serializers.IntegerField(min_value=1, max_value=4096, default=32)
    learning_rate = serializers.FloatField(min_value=1e-7, max_value=10.0, default=1e-3)
    nodes = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_empty=True, help_text="omitted: all active"
    )
    strategy = serializers.ChoiceField(choices=STRATEGIES, default="diloco")
    model_config = ModelConfigInputSerializer(required=False)
    max_steps = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False)
    local_steps = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, help_text="H")
    outer_lr = serializers.FloatField(min_value=1e-6, max_value=10.0, required=False)
    outer_momentum = serializers.FloatField(min_value=0.0, max_value=0.999, required=False)
    aggregator = serializers.ChoiceField(choices=AGGREGATORS, default="mean")
    aggregator_f = serializers.IntegerField(min_value=0, max_value=1000, default=0)
    quorum = serializers.FloatField(min_value=0.5, max_value=1.0, required=False)
    min_participants = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    deadline_s = serializers.FloatField(min_value=0.1, max_value=86_400, required=False)
    check_loss = serializers.BooleanField(required=False)
    kappa = serializers.FloatField(
        min_value=1.01, max_value=1e6, required=False, help_text="a proposal's norm may be at most kappa x the median"
    )
    epsilon = serializers.FloatField(
        min_value=0.0, max_value=100.0, required=False, help_text="held-out loss may rise by this fraction"
    )
    voting = serializers.BooleanField(required=False, help_text="false: every proposal is merged unvalidated")
    require_operator_approval = serializers.BooleanField(
        required=False, help_text="each proposal also needs an operator's vote (POST /api/v1/consensus/vote)"
    )
    warmup_steps = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    log_every = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
    wire_dtype = serializers.ChoiceField(choices=WIRE_FORMATS, default="float32")


class ProgressSerializer(serializers.Serializer):
    epoch = serializers.IntegerField()
    total_epochs = serializers.IntegerField()
    loss = serializers.FloatField(allow_null=True)
    bits_per_byte = serializers.FloatField(allow_null=True, help_text="the loss in bits per byte of text")
    accuracy = serializers.FloatField(allow_null=True)
    step = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    tokens_per_s = serializers.FloatField()
    mfu = serializers.FloatField(
        allow_null=True, help_text="mean model FLOPs utilisation of the nodes whose device peak is known (0-1)"
    )
    round = serializers.IntegerField()


class NodeProgressSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()
    batch_progress = serializers.FloatField()
    step = serializers.IntegerField()
    loss = serializers.FloatField(allow_null=True)
    bits_per_byte = serializers.FloatField(allow_null=True)
    tokens_per_s = serializers.FloatField(allow_null=True)
    mfu = serializers.FloatField(allow_null=True, help_text="model FLOPs utilisation, 0-1 (null: device peak unknown)")
    model_hash = serializers.CharField(allow_null=True)


class TrainingStatusSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    progress = ProgressSerializer()
    nodes = NodeProgressSerializer(many=True)


class RunSerializer(serializers.Serializer):
    node = serializers.CharField(source="node_id")
    rank = serializers.IntegerField()
    status = serializers.CharField()
    step = serializers.IntegerField()
    round = serializers.IntegerField()
    model_hash = serializers.CharField()
    metrics = serializers.JSONField(help_text="its final figures (the rounds are in the ledger: the session's rounds)")
    error = serializers.CharField()


class SessionSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    dataset = serializers.CharField()
    strategy = serializers.CharField()
    epochs = serializers.IntegerField()
    batch_size = serializers.IntegerField()
    learning_rate = serializers.FloatField()
    max_steps = serializers.IntegerField(allow_null=True)
    config = serializers.JSONField()
    metrics = serializers.JSONField()
    error = serializers.CharField()
    initial_checkpoint = serializers.CharField(source="initial_checkpoint_id", allow_null=True)
    final_model = serializers.CharField(
        source="final_model_id", allow_null=True, help_text="the checkpoint it ended with"
    )
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class RoundsSummarySerializer(serializers.Serializer):
    decided = serializers.IntegerField(help_text="rounds with a decision in the ledger")
    committed = serializers.IntegerField()
    failed = serializers.IntegerField()
    diverged = serializers.IntegerField(help_text="rounds some node ended with another model than the swarm's")
    latest_model_hash = serializers.CharField(allow_null=True, help_text="the model after the latest decided round")
    history = serializers.URLField(help_text="the rounds themselves: the ledger, a page at a time")


class SessionDetailSerializer(SessionSerializer):
    runs = RunSerializer(many=True)
    rounds = RoundsSummarySerializer()


class SessionListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=SessionStatus.choices, required=False, help_text="absent: any")


class SessionListSerializer(PageSerializer):
    sessions = SessionSerializer(many=True, help_text="newest first")


class TrainingStartApi(SwarmApi):
    throttle_scope = "training"
    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(
        operation_id="training_start",
        request=TrainingStartInputSerializer,
        responses={201: TrainingStatusSerializer, **error_responses(400, 403, 404, 409, 415, 503)},
    )
    def post(self, request: Request) -> Response:
        """Start distributed training session (staff)

        TRAINING_IN_PROGRESS while another runs; the members are the named nodes or every active one.
        """
        body = TrainingStartInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = services.session_start(request=body.validated_data, dispatch=dispatch_run)
        return Response(selectors.session_status(session), status=status.HTTP_201_CREATED)


class TrainingStatusApi(SwarmApi):
    @extend_schema(operation_id="training_status", responses={200: TrainingStatusSerializer, **error_responses(404)})
    def get(self, request: Request) -> Response:
        """Get current training status

        The running session, else the last one: progress (step, round, loss, bits per byte, tokens/s, MFU) and each
        member's state.
        """
        # A read: silent nodes are swept on a schedule (every server and worker heartbeat), not here.
        return Response(selectors.session_status(selectors.session_current()))


class TrainingStopApi(SwarmApi):
    throttle_scope = "training"
    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(
        operation_id="training_stop",
        request=None,
        responses={200: TrainingStatusSerializer, **error_responses(403, 404)},
    )
    def post(self, request: Request) -> Response:
        """Stop current training session (staff)

        Every node stops after its current step; the final model is saved.
        """
        session = services.session_stop(session=selectors.session_current())
        return Response(selectors.session_status(session))


class SessionListApi(SwarmApi):
    @extend_schema(
        operation_id="training_sessions_list",
        parameters=[SessionListQuerySerializer],
        responses={200: SessionListSerializer, **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        """List training sessions

        A page of the sessions, newest first, of one status or any.
        """
        query = SessionListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        sessions = selectors.session_list(status=query.validated_data.get("status"))
        body = {
            "sessions": SessionSerializer(sessions[query.window], many=True).data,
            **query.links(request, total=sessions.count()),
        }
        return Response(body)


class SessionDetailApi(SwarmApi):
    @extend_schema(
        operation_id="training_sessions_retrieve", responses={200: SessionDetailSerializer, **error_responses(404)}
    )
    def get(self, request: Request, session_id: str) -> Response:
        """Get one training session

        Its configuration, members, run metrics, final model and a summary of its rounds in the ledger.
        """
        session = selectors.session_get(session_id=session_id)
        history = request.build_absolute_uri(f"{reverse('consensus-history')}?{urlencode({'session': session.id})}")
        rounds = consensus_selectors.rounds_summary(session_id=session.id) | {"history": history}
        runs = RunSerializer(session.runs.all(), many=True).data
        return Response(
            {**SessionSerializer(session).data, "runs": runs, "rounds": RoundsSummarySerializer(rounds).data}
        )
