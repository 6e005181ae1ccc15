"""Rate limits of the spec: per IP for anonymous callers, per user with a token, and a
stricter tier on training endpoints (views with ``throttle_scope = "training"``).

Counting is django-ratelimit's (atomic increments in the default cache: Redis in fleet mode,
so the limits hold across server processes). The decision is DRF's: it runs right after
authentication and before permission checks (``ThrottleFirstMixin``), so a token holder is
counted in the user tier and an anonymous or failed request still counts against its IP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

if TYPE_CHECKING:  # rest_framework.views imports this module through DEFAULT_THROTTLE_CLASSES
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

_DECISION = "ncrsh_ratelimit"


@dataclass(frozen=True)
class Usage:
    limit: int
    remaining: int
    reset: int  # seconds until the window ends
    limited: bool


def _tiers(request: Request, view: APIView) -> list[tuple[str, str, int]]:
    limits = settings.RATE_LIMITS
    tiers = (
        [("ncrsh.user", "user", limits["authenticated"])]
        if request.user and request.user.is_authenticated
        else [("ncrsh.anon", "ip", limits["anonymous"])]
    )
    if getattr(view, "throttle_scope", None) == "training":
        tiers.append(("ncrsh.training", "user_or_ip", limits["training"]))
    return tiers


def _count(request: Request, group: str, key: str, per_minute: int) -> Usage | None:
    try:
        usage = get_usage(request, group=group, key=key, rate=f"{per_minute}/m", increment=True)
    except (RedisError, OSError):
        logger.warning("rate-limit cache unavailable; letting the request through", exc_info=True)
        return None
    if usage is None:
        return None
    return Usage(
        limit=usage["limit"],
        remaining=max(0, usage["limit"] - usage["count"]),
        reset=max(1, usage["time_left"]),
        limited=usage["should_limit"],
    )


class SwarmRateThrottle(BaseThrottle):
    """Counts a request once in every tier that applies; the tightest tier decides."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        raw: HttpRequest = request._request
        decision: Usage | None = getattr(raw, _DECISION, None)
        if decision is None:
            usages = [u for tier in _tiers(request, view) if (u := _count(request, *tier))]
            if not usages:
                return True
            decision = min(usages, key=lambda u: (not u.limited, u.remaining))
            setattr(raw, _DECISION, decision)
        self._wait = decision.reset
        return not decision.limited

    def wait(self) -> float:
        return float(self._wait)


class ThrottleFirstMixin:
    """Throttle right after authentication, before permissions (see the module docstring)."""

    def perform_authentication(self, request: Request) -> None:
        try:
            super().perform_authentication(request)  # type: ignore[misc]
        finally:
            # The throttle stores its decision on the request, so DRF's own later call is free.
            self.check_throttles(request)  # type: ignore[attr-defined]


class RateLimitHeadersMiddleware:
    """Adds X-RateLimit-Limit/-Remaining/-Reset to every throttled API response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        usage: Any = getattr(request, _DECISION, None)
        if usage is not None:
            response["X-RateLimit-Limit"] = str(usage.limit)
            response["X-RateLimit-Remaining"] = str(usage.remaining)
            response["X-RateLimit-Reset"] = str(usage.reset)
        return response
