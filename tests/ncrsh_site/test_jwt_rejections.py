"""Every forged, expired or misdirected token is refused with 401 in the error format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from ncrsh_site.keys import create_keypair, load_keypair

pytestmark = pytest.mark.django_db


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user: User, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "token_type": "access",
        "exp": now + 600,
        "iat": now,
        "jti": "0" * 32,
        "user_id": str(user.pk),
        "iss": "ncrsh-swarm",
        "aud": "ncrsh-swarm-api",
        "hash_password": get_md5_hash_password(user.password),  # the password it was issued under
    }
    claims.update(overrides)
    return claims


def _rs256(claims: dict[str, object], key: str | None = None) -> str:
    return jwt.encode(claims, key or settings.JWT_PRIVATE_KEY, algorithm="RS256")


def _alg_none(user: User) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user))}."


def _hs256_with_public_key(user: User) -> str:
    # The classic key-confusion attack: HMAC keyed with the server's public key.
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(_claims(user))}"
    mac = hmac.new(settings.JWT_PUBLIC_KEY.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _tampered(user: User) -> str:
    header, _, signature = str(AccessToken.for_user(user)).split(".")
    return f"{header}.{_b64(_claims(user, user_id='999999'))}.{signature}"


def _other_key(user: User, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("keys")
    create_keypair(folder / "k.pem", folder / "k.pub")
    return _rs256(_claims(user), load_keypair(folder / "k.pem", folder / "k.pub", None)[0])


FORGERIES: dict[str, Callable[[User], str]] = {
    "alg none": _alg_none,
    "HS256 signed with the public key": _hs256_with_public_key,
    "expired": lambda u: _rs256(_claims(u, exp=int(time.time()) - 60, iat=int(time.time()) - 3600)),
    "wrong issuer": lambda u: _rs256(_claims(u, iss="someone-else")),
    "no issuer": lambda u: _rs256({k: v for k, v in _claims(u).items() if k != "iss"}),
    "wrong audience": lambda u: _rs256(_claims(u, aud="another-api")),
    "no audience": lambda u: _rs256({k: v for k, v in _claims(u).items() if k != "aud"}),
    "tampered payload": _tampered,
    "refresh token used as access": lambda u: _rs256(_claims(u, token_type="refresh")),
    "issued under another password": lambda u: _rs256(_claims(u, hash_password="0" * 32)),
    "no password digest": lambda u: _rs256({k: v for k, v in _claims(u).items() if k != "hash_password"}),
    "garbage": lambda u: "not.a.jwt",
}


def test_a_well_formed_token_is_accepted(member: User) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_rs256(_claims(member))}")
    assert client.get("/api/v1/nodes").status_code == 200


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
def test_forged_tokens_are_refused(member: User, forgery: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {FORGERIES[forgery](member)}")
    response = client.get("/api/v1/nodes")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401


def test_a_token_signed_by_another_key_is_refused(member: User, tmp_path_factory: pytest.TempPathFactory) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_other_key(member, tmp_path_factory)}")
    assert client.get("/api/v1/nodes").status_code == 401
