"""Login and refresh (spec "Authentication"): RS256 JWTs from simplejwt, with the token's
type and lifetime in the body so that clients need not decode it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password
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
        # simplejwt checks an access token's user (active, password unchanged) on every request,
        # but a refresh token's only for being active, and a deleted user's is a 500 there.
        token = self.token_class(attrs["refresh"])
        user_id = token.payload.get(api_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        if user is None or not user.is_active:
            raise AuthenticationFailed("No active account found for the given token.", "no_active_account")
        if token.payload.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", "password_changed")
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
        """Get authentication tokens

        Exchange a username and password for an RS256 access token and a single-use refresh token (anonymous rate
        limit; repeated failures lock the account out for a while).
        """
        return super().post(request, *args, **kwargs)


class RefreshApi(ThrottleFirstMixin, TokenViewBase):
    _serializer_class = "ncrsh_site.auth.RefreshSerializer"

    @extend_schema(
        operation_id="auth_refresh",
        responses={200: TokenPairOutputSerializer, **error_responses(400, 401, 415, anonymous=True)},
    )
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Refresh the tokens

        A new access and refresh token for a refresh token, which is then spent (blacklisted).
        """
        return super().post(request, *args, **kwargs)
