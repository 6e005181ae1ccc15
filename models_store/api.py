"""Model Management (spec): list, save, load, download; and export (Hugging Face)."""

from __future__ import annotations

import asyncio
import base64
import shutil
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from models_store import selectors, services
from models_store.models import Checkpoint
from ncrsh_site.api import (
    PageQuerySerializer,
    PageSerializer,
    QuerySerializer,
    StrictSerializer,
    SwarmApi,
    error_responses,
)

_CHUNK = 1 << 20
MAX_NEW_TOKENS = 1024  # a sample runs in the web process: short by design


class CheckpointSerializer(serializers.Serializer):
    id = serializers.CharField()
    session = serializers.CharField(source="session_id", allow_null=True)
    round = serializers.IntegerField()
    step = serializers.IntegerField()
    created = serializers.DateTimeField(source="created_at")
    size = serializers.IntegerField(help_text="bytes")
    sha256 = serializers.CharField()
    model_hash = serializers.CharField()
    metrics = serializers.JSONField()
    model_config = serializers.JSONField()
    loaded = serializers.SerializerMethodField(help_text="chosen as the next session's starting weights")

    def get_loaded(self, checkpoint: Checkpoint) -> bool:
        return checkpoint.loaded_at is not None


class CheckpointListSerializer(PageSerializer):
    models = CheckpointSerializer(many=True, help_text="newest first")


class CheckpointListQuerySerializer(PageQuerySerializer):
    session = serializers.CharField(required=False, allow_blank=True, help_text="a session id; empty or absent: all")


class SaveInputSerializer(StrictSerializer):
    session_id = serializers.CharField(required=False, help_text="default: the running, else the last, session")


class LoadInputSerializer(StrictSerializer):
    model_id = serializers.CharField()


class ModelListApi(SwarmApi):
    @extend_schema(
        operation_id="models_list",
        parameters=[CheckpointListQuerySerializer],
        responses={200: CheckpointListSerializer, **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        """List available models

        The checkpoints in the model store, newest first, of one session or all.
        """
        query = CheckpointListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        checkpoints = selectors.checkpoint_list(session_id=query.validated_data.get("session") or None)
        body = {
            "models": CheckpointSerializer(checkpoints[query.window], many=True).data,
            **query.links(request, total=checkpoints.count()),
        }
        return Response(body)


class ModelLoadApi(SwarmApi):
    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(
        operation_id="models_load",
        request=LoadInputSerializer,
        responses={200: CheckpointSerializer, **error_responses(400, 403, 404, 415, 422)},
    )
    def post(self, request: Request) -> Response:
        """Load saved model (staff)

        Verify the checkpoint and make it the starting weights of the next session.
        """
        body = LoadInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        checkpoint = services.checkpoint_load(model_id=body.validated_data["model_id"])
        return Response(CheckpointSerializer(checkpoint).data)


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    """The open file a chunk at a time, read off the event loop: never whole in memory."""
    try:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


class FileApi(SwarmApi):
    """A file's view: the file whatever the Accept header, errors in JSON. (DRF's negotiation would
    answer 406 to a client that accepts only the file's type before it could hear a 404.)"""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type


class ModelDownloadApi(FileApi):
    @extend_schema(
        operation_id="models_download",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="safetensors file"),
            **error_responses(404, 422),
        },
    )
    def get(self, request: Request, model_id: str) -> StreamingHttpResponse:
        """Download model checkpoint

        The safetensors file, streamed; its sha256 is the ETag, for the client to verify. MODEL_CORRUPT when the
        stored bytes no longer match.
        """
        checkpoint = selectors.checkpoint_get(model_id=model_id)
        # Checked before the first byte goes out: a replaced or truncated file is MODEL_CORRUPT.
        handle = services.checkpoint_open(checkpoint=checkpoint)
        response = StreamingHttpResponse(_chunks(handle), content_type="application/octet-stream")
        response["Content-Length"] = str(checkpoint.size)
        response["Content-Disposition"] = f'attachment; filename="{checkpoint.id}.safetensors"'
        response["ETag"] = f'"{checkpoint.sha256}"'
        digest = base64.b64encode(bytes.fromhex(checkpoint.sha256)).decode()
        response["Digest"] = f"sha-256={digest}"
        response["Repr-Digest"] = f"sha-256=:{digest}:"
        return response


class ExportQuerySerializer(QuerySerializer):
    format = serializers.ChoiceField(choices=services.EXPORT_FORMATS, default="hf", help_text="hf: Hugging Face")


def _tar(folder: Path, files: list[Path]) -> AsyncIterator[bytes]:
    """A tar archive of ``files``, written as it is sent (headers, then each file a chunk at a
    time: never whole in memory); ``folder`` is deleted once the last byte is out."""

    async def stream() -> AsyncIterator[bytes]:
        try:
            for path in files:
                info = tarfile.TarInfo(path.name)
                info.size, info.mode, info.mtime = path.stat().st_size, 0o644, int(time.time())
                yield info.tobuf(format=tarfile.PAX_FORMAT)
                async for chunk in _chunks(await asyncio.to_thread(path.open, "rb")):
                    yield chunk
                if info.size % tarfile.BLOCKSIZE:
                    yield tarfile.NUL * (tarfile.BLOCKSIZE - info.size % tarfile.BLOCKSIZE)
            yield tarfile.NUL * (2 * tarfile.BLOCKSIZE)
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    return stream()


class ModelExportApi(FileApi):
    """``?format=`` names the export format here, not one of DRF's renderers."""

    @extend_schema(
        operation_id="models_export",
        parameters=[ExportQuerySerializer],
        responses={
            (200, "application/x-tar"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="a Hugging Face model folder (config.json, model.safetensors with GPT-2's tensor names,"
                " generation_config.json, tokenizer.json, tokenizer_config.json): AutoModelForCausalLM and"
                " AutoTokenizer load it with no custom code",
            ),
            **error_responses(400, 404, 422),
        },
    )
    def get(self, request: Request, model_id: str) -> StreamingHttpResponse:
        """Export a model for other tools

        A tar archive of a Hugging Face folder (config.json, model.safetensors, tokenizer) that transformers'
        AutoModelForCausalLM.from_pretrained loads.
        """
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        checkpoint = selectors.checkpoint_get(model_id=model_id)
        folder = Path(tempfile.mkdtemp(prefix=f"{checkpoint.id}-export-"))
        try:
            files = services.checkpoint_export(checkpoint=checkpoint, into=folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        response = StreamingHttpResponse(_tar(folder, files), content_type="application/x-tar")
        response["Content-Disposition"] = f'attachment; filename="{checkpoint.id}-hf.tar"'
        return response


class GenerateInputSerializer(StrictSerializer):
    prompt = serializers.CharField(max_length=10_000, allow_blank=True, trim_whitespace=False, default="")
    max_new_tokens = serializers.IntegerField(min_value=1, max_value=MAX_NEW_TOKENS, default=50)
    temperature = serializers.FloatField(min_value=0.0, max_value=5.0, default=1.0, help_text="0: the likeliest token")
    top_k = serializers.IntegerField(
        min_value=1, max_value=1 << 20, required=False, help_text="sample among the k likeliest"
    )
    seed = serializers.IntegerField(min_value=0, max_value=2**62, required=False, help_text="for a reproducible sample")


class GenerateOutputSerializer(serializers.Serializer):
    model_id = serializers.CharField()
    prompt = serializers.CharField()
    completion = serializers.CharField(help_text="the text generated after the prompt")
    tokens = serializers.IntegerField(help_text="tokens generated")
    seconds = serializers.FloatField()


class ModelGenerateApi(SwarmApi):
    throttle_scope = "training"  # a model run: the training tier's rate limit

    @extend_schema(
        operation_id="models_generate",
        request=GenerateInputSerializer,
        responses={200: GenerateOutputSerializer, **error_responses(400, 404, 415, 422)},
    )
    def post(self, request: Request, model_id: str) -> Response:
        """Generate text with a model

        The server samples up to 1024 tokens after the prompt from the checkpoint.
        """
        body = GenerateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        checkpoint = selectors.checkpoint_get(model_id=model_id)
        sample = services.checkpoint_sample(
            checkpoint=checkpoint,
            prompt=data["prompt"],
            max_new_tokens=data["max_new_tokens"],
            temperature=data["temperature"],
            top_k=data.get("top_k"),
            seed=data.get("seed"),
        )
        return Response(GenerateOutputSerializer(sample).data)
