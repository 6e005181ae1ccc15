"""Datasets: the prepared ones, and preparing one on a worker (staff)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from models_store import dataset_services, selectors
from models_store.models import Dataset, DatasetStatus
from ncrsh_site.api import (
    IsStaffOrReadOnly,
    PageQuerySerializer,
    PageSerializer,
    StrictSerializer,
    SwarmApi,
    error_responses,
)
from training.dispatch import dispatch_prepare


class DatasetSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=DatasetStatus.choices)
    source = serializers.CharField()  # type: ignore[assignment]  # DRF pops declared fields
    tokenizer = serializers.CharField()
    vocab_size = serializers.IntegerField(allow_null=True)
    tokens = serializers.IntegerField()
    bytes = serializers.IntegerField()
    train_tokens = serializers.SerializerMethodField()
    val_tokens = serializers.SerializerMethodField()
    shards = serializers.SerializerMethodField()
    tokenizer_sha256 = serializers.SerializerMethodField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_train_tokens(self, row: Dataset) -> int:
        return int(row.manifest.get("train", {}).get("tokens", 0))

    def get_val_tokens(self, row: Dataset) -> int:
        return int(row.manifest.get("val", {}).get("tokens", 0))

    def get_shards(self, row: Dataset) -> int:
        return sum(len(row.manifest.get(split, {}).get("shards", [])) for split in ("train", "val"))

    def get_tokenizer_sha256(self, row: Dataset) -> str:
        return str(row.manifest.get("tokenizer", {}).get("sha256", ""))


class DatasetListSerializer(PageSerializer):
    datasets = DatasetSerializer(many=True)


class DatasetPrepareInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=512,
        help_text="builtin:pystdlib, file:<path or glob>, <folder in NCRSH_DATA_DIR>, huggingface:<name>",
    )
    tokenizer = serializers.CharField(max_length=512, default="byte", help_text="byte, bpe, hf:<name>, file:<path>")
    vocab_size = serializers.IntegerField(min_value=257, max_value=1 << 20, required=False, help_text="bpe only")


class DatasetListApi(SwarmApi):
    permission_classes = (permissions.IsAuthenticated, IsStaffOrReadOnly)

    @extend_schema(
        operation_id="datasets_list",
        parameters=[PageQuerySerializer],
        responses={200: DatasetListSerializer, **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        """List prepared datasets

        Datasets a session can name (`dataset: <name>`), with their token counts and splits.
        """
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.dataset_list()
        body = {
            "datasets": DatasetSerializer(rows[query.window], many=True).data,
            **query.links(request, total=rows.count()),
        }
        return Response(body)

    @extend_schema(
        operation_id="datasets_prepare",
        request=DatasetPrepareInputSerializer,
        responses={202: DatasetSerializer, 200: DatasetSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        """Prepare a dataset (staff)

        A worker tokenises the source into a named dataset of memory-mapped shards; answers at once with status
        preparing (follow dataset_progress events or poll the dataset).
        """
        body = DatasetPrepareInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row, mine = dataset_services.dataset_request(**body.validated_data, dispatch=dispatch_prepare)
        return Response(DatasetSerializer(row).data, status=status.HTTP_202_ACCEPTED if mine else status.HTTP_200_OK)


class DatasetDetailApi(SwarmApi):
    @extend_schema(operation_id="datasets_retrieve", responses={200: DatasetSerializer, **error_responses(404)})
    def get(self, request: Request, name: str) -> Response:
        """Get one dataset

        Also while it is being prepared, or after its preparation failed (with the error).
        """
        return Response(DatasetSerializer(selectors.dataset_get(name=name)).data)
