from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters(settings: Settings) -> None:
    # Each test counts from zero, without flushing a cache that other processes may share.
    settings.RATELIMIT_CACHE_PREFIX = f"rl:{secrets.token_hex(6)}:"
    settings.LOGIN_GUARD_KEY_PREFIX = f"login:{secrets.token_hex(6)}:"
    # Every scrape builds its exposition (tests compare scrapes before and after a change).
    settings.METRICS_CACHE_S = 0


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("operator", password="operator-pass-123", is_staff=True)


@pytest.fixture
def member(db: None) -> User:
    return User.objects.create_user("viewer", password="viewer-pass-123")


@pytest.fixture
def client_for() -> Callable[[User | None], APIClient]:
    """An API client holding a real RS256 access token for the user (or none)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


@pytest.fixture
def staff_client(staff: User, client_for: Callable[[User | None], APIClient]) -> APIClient:
    return client_for(staff)


@pytest.fixture
def member_client(member: User, client_for: Callable[[User | None], APIClient]) -> APIClient:
    return client_for(member)
