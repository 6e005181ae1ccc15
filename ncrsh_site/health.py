"""Health probes (spec "Health Checks"); no authentication, no rate limit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ncrsh_site.errors import error_body

logger = logging.getLogger(__name__)


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "environment": settings.NCRSH_ENV})


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers; no dependency is checked, so a slow database never restarts the pod."""
    return JsonResponse({"status": "alive"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    cache.set("ncrsh:health", "ok", timeout=10)
    if cache.get("ncrsh:health") != "ok":
        raise RuntimeError("cache did not return what was written")


def _check_broker() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _checks() -> dict[str, Callable[[], None]]:
    checks = {"database": _check_database, "cache": _check_cache}
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        checks["broker"] = _check_broker
    return checks


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Each dependency is checked with a short timeout (set on its connection); 503 names what failed."""
    results: dict[str, dict[str, object]] = {}
    for name, check in _checks().items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure of a dependency means "not ready"
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        else:
            results[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}
    failed = sorted(name for name, result in results.items() if result["status"] != "ok")
    if failed:
        body = error_body(503, "NOT_READY", {"failed": failed, "checks": results})
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ready", "checks": results})
