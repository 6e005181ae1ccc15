"""One error format for the whole API: ``{"error": {"code", "message", "detail"}}``.

The spec's domain errors carry codes 1001-1005; every other error carries its HTTP status as
its code and a stable upper-case message (VALIDATION_ERROR, NOT_AUTHENTICATED, RATE_LIMITED…).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """An error of the domain, raised by services and selectors in any process (web, worker):
    a plain exception that knows its HTTP status, its code (the spec's 1001-1005, else the
    status) and its stable upper-case message. ``exception_handler`` renders it."""

    status: int = 400
    code: int | None = None
    message: str = "BAD_REQUEST"
    default_detail: str = "The request cannot be served."

    def __init__(self, detail: Any = None) -> None:
        self.detail = detail if detail is not None else self.default_detail
        super().__init__(detail if isinstance(detail, str) else self.default_detail)

    @property
    def error_code(self) -> int:
        return self.code if self.code is not None else self.status


class Invalid(DomainError):
    """Field errors: ``detail`` maps each field to its messages (as a serializer's would)."""

    status, message = 400, "VALIDATION_ERROR"
    default_detail = "Invalid input."

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(fields)


class NotFound(DomainError):
    status, message = 404, "NOT_FOUND"
    default_detail = "Not found."


class Conflict(DomainError):
    status, message = 409, "CONFLICT"


class NodeNotFound(DomainError):
    status, code, message = 404, 1001, "NODE_NOT_FOUND"
    default_detail = "Specified node ID not found."


class TrainingInProgress(DomainError):
    status, code, message = 409, 1002, "TRAINING_IN_PROGRESS"
    default_detail = "Cannot start training: a session is active."


class ConsensusFailed(DomainError):
    status, code, message = 409, 1003, "CONSENSUS_FAILED"
    default_detail = "Consensus protocol failed."


class ModelCorrupt(DomainError):
    status, code, message = 422, 1004, "MODEL_CORRUPT"
    default_detail = "Model checkpoint corrupted."


class NetworkPartition(DomainError):
    status, code, message = 503, 1005, "NETWORK_PARTITION"
    default_detail = "Network partition detected."


_MESSAGES = {"invalid": "VALIDATION_ERROR", "throttled": "RATE_LIMITED", "token_not_valid": "TOKEN_NOT_VALID"}


def error_body(code: int, message: str, detail: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail}}


def _detail(exc: exceptions.APIException) -> Any:
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        return detail
    # simplejwt wraps its reason as {"detail": …, "code": …, "messages": […]}.
    if isinstance(detail, dict) and "detail" in detail:
        return str(detail["detail"])
    return detail if isinstance(detail, list | dict) else str(detail)


# A database that cannot be reached (down, restarting, out of connections, or too slow to
# accept one) is the server's state, not a fault of the request: 503, try again shortly.
RETRY_AFTER_S = 5


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.error_code, exc.message, exc.detail), status=exc.status)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable in %s: %s", context.get("view").__class__.__name__, exc)
        return Response(
            error_body(503, "SERVICE_UNAVAILABLE", "The database is unavailable; try again shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if isinstance(exc, RequestDataTooBig):  # a body read before the parser could refuse it
        return Response(
            error_body(413, "PAYLOAD_TOO_LARGE", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            error_body(500, "INTERNAL_ERROR", "The server failed to handle this request."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    api_exc = exc if isinstance(exc, exceptions.APIException) else None
    if api_exc is None:  # Http404 / PermissionDenied, converted by DRF's handler
        message = "NOT_FOUND" if response.status_code == 404 else "PERMISSION_DENIED"
        response.data = error_body(response.status_code, message, str(response.data.get("detail", "")))
        return response
    code = str(api_exc.default_code)
    response.data = error_body(response.status_code, _MESSAGES.get(code, code.upper()), _detail(api_exc))
    return response


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    """Django's 404 for URLs no view matches, in the API's format."""
    return JsonResponse(error_body(404, "NOT_FOUND", f"No endpoint at {request.path}."), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body(500, "INTERNAL_ERROR", "The server failed to handle this request."), status=500)
