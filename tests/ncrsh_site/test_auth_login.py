from __future__ import annotations

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _login(username: str = "viewer", password: str = "viewer-pass-123") -> dict[str, object]:
    response = APIClient().post("/api/v1/auth/login", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_login_returns_an_rs256_token_pair_with_its_lifetime(member: User) -> None:
    body = _login()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 24 * 3600
    header = jwt.get_unverified_header(str(body["access"]))
    assert header["alg"] == "RS256"
    claims = jwt.decode(str(body["access"]), settings.JWT_PUBLIC_KEY, algorithms=["RS256"], audience="ncrsh-swarm-api")
    assert claims["iss"] == "ncrsh-swarm"
    # Whole seconds of two clock reads: seen 86399 apart under load (CI, 2026-11-27).
    assert 24 * 3600 - 1 <= claims["exp"] - claims["iat"] <= 24 * 3600
    assert claims["user_id"] == str(member.pk)


def test_the_access_token_opens_the_api(member: User) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_login()['access']}")
    assert client.get("/api/v1/nodes").status_code == 200


def test_wrong_credentials_are_401_in_the_error_format(member: User) -> None:
    response = APIClient().post("/api/v1/auth/login", {"username": "viewer", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "AUTHENTICATION_FAILED"


def test_login_without_fields_is_a_validation_error() -> None:
    response = APIClient().post("/api/v1/auth/login", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["detail"]) == {"username", "password"}


def test_refresh_rotates_and_the_old_refresh_token_is_blacklisted(member: User) -> None:
    first = _login()
    client = APIClient()
    refreshed = client.post("/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json")
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert body["refresh"] != first["refresh"]
    assert body["token_type"] == "Bearer"
    assert jwt.get_unverified_header(body["access"])["alg"] == "RS256"
    reused = client.post("/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.json()["error"]["message"] == "TOKEN_NOT_VALID"


def test_an_access_token_is_not_a_refresh_token(member: User) -> None:
    access = _login()["access"]
    response = APIClient().post("/api/v1/auth/refresh", {"refresh": access}, format="json")
    assert response.status_code == 401
