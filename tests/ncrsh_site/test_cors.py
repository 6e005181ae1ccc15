from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

pytestmark = pytest.mark.django_db
DASHBOARD = "https://dashboard.example.com"


def _preflight() -> dict[str, str]:
    response = Client().options(
        "/api/v1/nodes",
        HTTP_ORIGIN=DASHBOARD,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    return dict(response.headers)


def test_a_configured_origin_may_call_the_api(settings: SettingsWrapper) -> None:
    settings.CORS_ALLOWED_ORIGINS = [DASHBOARD]
    headers = _preflight()
    assert headers["access-control-allow-origin"] == DASHBOARD
    assert "authorization" in headers["access-control-allow-headers"].lower()


def test_by_default_no_origin_is_allowed() -> None:
    assert "access-control-allow-origin" not in _preflight()
