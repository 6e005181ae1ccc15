"""Rate-limit tiers, in process with small limits (the two-process Redis test is in e2e/)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import django_ratelimit.core
import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from ncrsh_site.api import SwarmApi

pytestmark = pytest.mark.django_db
URL = "/api/v1/nodes"


@pytest.fixture(autouse=True)
def small_limits(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.RATE_LIMITS = {"anonymous": 3, "authenticated": 5, "training": 2}
    # A stopped clock: no one-minute window may roll over in the middle of a test.
    stopped = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", SimpleNamespace(time=lambda: stopped))


def test_the_request_past_the_anonymous_limit_is_429_with_retry_after() -> None:
    client = APIClient()
    statuses = [client.get(URL).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    limited = client.get(URL)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["message"] == "RATE_LIMITED"
    assert limited.json()["error"]["code"] == 429


def test_responses_carry_the_remaining_budget(member_client: APIClient) -> None:
    first = member_client.get(URL)
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("5", "4")
    assert 1 <= int(first["X-RateLimit-Reset"]) <= 60


def test_a_token_holder_has_the_user_tier_not_the_ip_tier(member_client: APIClient) -> None:
    APIClient().get(URL)  # spend some of the IP's anonymous budget
    statuses = [member_client.get(URL).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_requests_with_a_bad_token_count_against_the_ip() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert [client.get(URL).status_code for _ in range(4)] == [401, 401, 401, 429]


def test_users_are_counted_apart(member_client: APIClient, staff_client: APIClient) -> None:
    assert [member_client.get(URL).status_code for _ in range(6)][-1] == 429
    assert staff_client.get(URL).status_code == 200


class TrainingLikeApi(SwarmApi):
    throttle_scope = "training"

    def post(self, request: Request) -> Response:
        return Response({"started": True})


def test_views_in_the_training_scope_have_the_stricter_limit(member: User) -> None:
    view = TrainingLikeApi.as_view()
    factory = APIRequestFactory()

    def call() -> int:
        request = factory.post("/train", {}, format="json")
        force_authenticate(request, user=member)
        return int(view(request).status_code)

    assert [call() for _ in range(3)] == [200, 200, 429]


def test_a_login_attempt_is_rate_limited_per_ip() -> None:
    client = APIClient()
    body = {"username": "nobody", "password": "guess"}
    statuses = [client.post("/api/v1/auth/login", body, format="json").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
