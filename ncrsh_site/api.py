"""Building blocks shared by every app's API: the base view, strict input, documented errors."""

from __future__ import annotations

import inspect
import math
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.views import APIView

from ncrsh_site.throttling import ThrottleFirstMixin


class SwarmApi(ThrottleFirstMixin, APIView):
    """Base of the API's views."""


class IsStaffOrReadOnly(permissions.BasePermission):
    """Anyone authenticated reads; only staff write (create, prepare, remove)."""

    message = "Only staff users may make this change."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in permissions.SAFE_METHODS or bool(request.user and request.user.is_staff)


class StrictSerializer(serializers.Serializer):
    """Input serializer that rejects keys it does not know, so a typo is an error, not a default."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
            # DRF turns a number given for a string into its text ("name": 0.0 -> "0.0").
            not_text = sorted(
                name
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField | serializers.ChoiceField)
                and name in data
                and data[name] is not None
                and not isinstance(data[name], str)
            )
            if not_text:
                raise serializers.ValidationError({name: ["Not a string."] for name in not_text})
        return super().to_internal_value(data)


class QuerySerializer(serializers.Serializer):
    """Query parameters (pass ``request.query_params``), each at most once: a repeated one
    (``?offset=1&offset=x``) is a 400, not a silent pick of its last value; a blank one is a
    value (not "absent", as DRF reads blank form fields). Unknown ones (``?format=``…) are ignored."""

    def __init__(self, instance: Any = None, data: Any = empty, **kwargs: Any) -> None:
        self.repeated: list[str] = []
        if hasattr(data, "getlist"):
            self.repeated = sorted(key for key in data if len(data.getlist(key)) > 1)
            data = data.dict()
        super().__init__(instance, data, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        repeated = {name: ["Give it once."] for name in self.repeated if name in self.fields}
        if repeated:
            raise serializers.ValidationError(repeated)
        return super().to_internal_value(data)


class PageQuerySerializer(QuerySerializer):
    """``limit`` and ``offset`` of a list-shaped endpoint (subclass to add its filters); once
    valid, ``window`` slices the rows and ``links`` gives PageSerializer's fields."""

    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)

    @property
    def window(self) -> slice:
        offset = self.validated_data["offset"]
        return slice(offset, offset + self.validated_data["limit"])

    def links(self, request: Request, *, total: int) -> dict[str, Any]:
        """The paging fields: the next and previous pages' URLs keep the request's filters."""
        limit, offset = self.validated_data["limit"], self.validated_data["offset"]

        def url(at: int | None) -> str | None:
            if at is None:
                return None
            query = request.query_params.copy()
            query["offset"] = str(at)
            return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

        return {
            "total": total,
            "limit": limit,
            "offset": offset,
            "next": url(offset + limit if offset + limit < total else None),
            "previous": url(max(0, offset - limit) if offset > 0 else None),
        }


class PageSerializer(serializers.Serializer):
    """The paging fields of a list-shaped response (subclass to add its rows)."""

    total = serializers.IntegerField(help_text="rows matching the filter")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    next = serializers.URLField(allow_null=True, help_text="the next page, if any")
    previous = serializers.URLField(allow_null=True, help_text="the previous page, if any")


class SwarmAutoSchema(AutoSchema):
    """Each operation's summary is the first paragraph of its method's docstring, its description
    the rest; a view class's docstring (inherited from SwarmApi or a mixin) is not used."""

    def _method_doc(self) -> str:
        method = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        return inspect.cleandoc(method.__doc__) if method is not None and method.__doc__ else ""

    def get_summary(self) -> str | None:
        return self._method_doc().partition("\n\n")[0].replace("\n", " ") or None

    def get_description(self) -> str:  # type: ignore[override] # spectacular's signature, not DRF's
        return self._method_doc().partition("\n\n")[2]


class StrictSerializerSchema(OpenApiSerializerExtension):
    """Says in the schema what StrictSerializer enforces: no properties beyond the declared ones."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


_ERROR = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.IntegerField(help_text="1001-1005 for the spec's errors, else the HTTP status"),
                "message": serializers.CharField(help_text="e.g. NODE_NOT_FOUND, VALIDATION_ERROR"),
                "detail": serializers.JSONField(help_text="text, or field errors for VALIDATION_ERROR"),
            },
        )
    },
)

_DESCRIPTIONS = {
    400: "Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR)",
    401: "Missing, invalid or expired token",
    403: "Authenticated but not allowed (staff only)",
    404: "Not found (NODE_NOT_FOUND 1001 for nodes)",
    409: "Conflict (TRAINING_IN_PROGRESS 1002, CONSENSUS_FAILED 1003, ROUND_CLOSED, ALREADY_VOTED)",
    415: "Unsupported media type: send application/json",
    422: "MODEL_CORRUPT 1004",
    429: "Rate limited; see Retry-After",
    503: "NETWORK_PARTITION 1005",
}


def error_responses(*statuses: int, anonymous: bool = False) -> dict[int, OpenApiResponse]:
    """Schema entries for an operation's errors; 401 and 429 come with every authenticated one."""
    codes = {*statuses, 429} if anonymous else {*statuses, 401, 429}
    return {code: OpenApiResponse(_ERROR, description=_DESCRIPTIONS[code]) for code in sorted(codes)}


def finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity (and PostgreSQL's jsonb refuses them): such a figure — a
    diverged loss, the norm of a NaN update — is stored and shown as null."""
    return value if value is not None and math.isfinite(value) else None
