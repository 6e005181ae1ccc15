"""Exceptions of the SDK: one per error code of the spec, and one per kind of HTTP failure.

Every one carries ``code`` (1001-1005, or the HTTP status for other errors), ``message`` (the
server's upper-case name, e.g. ``NODE_NOT_FOUND``), ``detail`` and ``status`` (HTTP).
"""

from __future__ import annotations

from typing import Any


class SwarmError(Exception):
    code: int = 0
    message: str = "ERROR"

    def __init__(self, detail: Any = "", *, code: int | None = None, message: str | None = None, status: int = 0):
        self.detail = detail
        self.code = code if code is not None else type(self).code
        self.message = message or type(self).message
        self.status = status
        super().__init__(f"{self.code} {self.message}: {detail}" if detail else f"{self.code} {self.message}")


# --- the spec's domain errors -------------------------------------------------------------------
class NodeNotFound(SwarmError):
    code, message = 1001, "NODE_NOT_FOUND"


class TrainingInProgress(SwarmError):
    code, message = 1002, "TRAINING_IN_PROGRESS"


class ConsensusFailed(SwarmError):
    code, message = 1003, "CONSENSUS_FAILED"


class ModelCorrupt(SwarmError):
    code, message = 1004, "MODEL_CORRUPT"


class NetworkPartition(SwarmError):
    code, message = 1005, "NETWORK_PARTITION"


# --- everything else, by HTTP status ------------------------------------------------------------
class ValidationError(SwarmError):
    """400: ``detail`` maps each offending field to its messages."""

    code, message = 400, "VALIDATION_ERROR"


class AuthenticationError(SwarmError):
    code, message = 401, "NOT_AUTHENTICATED"


class PermissionDenied(SwarmError):
    code, message = 403, "PERMISSION_DENIED"


class NotFound(SwarmError):
    code, message = 404, "NOT_FOUND"


class Conflict(SwarmError):
    code, message = 409, "CONFLICT"


class RateLimited(SwarmError):
    """429 after the client's retries; ``retry_after`` is the server's last Retry-After (seconds)."""

    code, message = 429, "RATE_LIMITED"
    retry_after: float | None = None


class ServerError(SwarmError):
    code, message = 500, "INTERNAL_ERROR"


class ConnectionFailed(SwarmError):
    """The server could not be reached (refused, timed out, DNS)."""

    code, message = 0, "CONNECTION_FAILED"


class DownloadCorrupt(ModelCorrupt):
    """A downloaded checkpoint whose bytes do not match the sha256 the server announced."""


BY_CODE: dict[int, type[SwarmError]] = {
    cls.code: cls for cls in (NodeNotFound, TrainingInProgress, ConsensusFailed, ModelCorrupt, NetworkPartition)
}
BY_STATUS: dict[int, type[SwarmError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def error_for(status: int, body: Any) -> SwarmError:
    """The exception for an error response: by the body's code first, else by the HTTP status."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        cls = BY_STATUS.get(status, ServerError if status >= 500 else SwarmError)
        return cls(body if isinstance(body, str) else "", code=status, status=status)
    code = error.get("code", status)
    cls = BY_CODE.get(code) or BY_STATUS.get(status) or (ServerError if status >= 500 else SwarmError)
    return cls(error.get("detail", ""), code=code, message=error.get("message"), status=status)
