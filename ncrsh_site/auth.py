"""Login and refresh (spec "Authentication"): RS256 JWTs from simplejwt, with the token's
type and lifetime in the body so that clients need not decode it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.views import TokenViewBase

from ncrsh_site.api import error_responses
from ncrsh_site.throttling import ThrottleFirstMixin


def _with_lifetime(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "token_type": "Bearer", "expires_in": int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds())}


class LoginSerializer(TokenObtainPairSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _with_lifetime(super().validate(attrs))


class RefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _with_lifetime(super().validate(attrs))


class TokenPairOutputSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField(help_text="single use: refreshing returns a new one")
    token_type = serializers.CharField(help_text="always Bearer")
    expires_in = serializers.IntegerField(help_text="access-token lifetime in seconds")


class LoginApi(ThrottleFirstMixin, TokenViewBase):
    _serializer_class = "ncrsh_site.auth.LoginSerializer"

    @extend_schema(
        operation_id="auth_login",
        responses={200: TokenPairOutputSerializer, **error_responses(400, 401, 415, anonymous=True)},
    )
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().post(request, *args, **kwargs)


class RefreshApi(ThrottleFirstMixin, TokenViewBase):
    _serializer_class = "ncrsh_site.auth.RefreshSerializer"

    @extend_schema(
        operation_id="auth_refresh",
        responses={200: TokenPairOutputSerializer, **error_responses(400, 401, 415, anonymous=True)},
    )
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().post(request, *args, **kwargs)
