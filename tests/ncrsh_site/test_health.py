from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

pytestmark = pytest.mark.django_db
CLOSED_PORT = "redis://127.0.0.1:1/0"


def test_health_and_liveness_need_no_token() -> None:
    assert Client().get("/health").json()["status"] == "ok"
    assert Client().get("/health/live").json() == {"status": "alive"}


def test_ready_reports_each_dependency() -> None:
    response = Client().get("/health/ready")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["cache"]["status"] == "ok"


def test_ready_is_503_naming_a_dead_cache_and_broker(settings: SettingsWrapper) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED_PORT,
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    settings.CELERY_BROKER_URL = CLOSED_PORT
    response = Client().get("/health/ready")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["message"] == "NOT_READY"
    assert error["detail"]["failed"] == ["broker", "cache"]
    assert error["detail"]["checks"]["database"]["status"] == "ok"
    assert "ConnectionError" in error["detail"]["checks"]["cache"]["error"]


def test_probes_only_answer_get() -> None:
    assert Client().post("/health/ready").status_code == 405
