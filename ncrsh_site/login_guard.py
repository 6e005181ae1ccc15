"""Login throttling on every login path (issue 17): ``POST /api/v1/auth/login``, the admin's
login form and the browsable API's all authenticate through ``django.contrib.auth.authenticate``,
so the guard is the authentication backend itself.

Failed logins are counted per account and per client IP in the default cache (Redis in fleet
mode, so the counts hold across server processes). An account with ``LOGIN_MAX_FAILURES``
failures, or an IP with ``LOGIN_MAX_FAILURES_PER_IP``, within ``LOGIN_LOCKOUT`` is locked for
``LOGIN_LOCKOUT`` from the last failure that tripped it: every login there is refused, the right
password included, and ``LoginLockoutMiddleware`` answers 429 with Retry-After. The lock
recovers by itself; a successful login clears the account's count. When the cache cannot be
reached, logins are let through (as the rate limits are) and the outage is logged.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from redis.exceptions import RedisError

from ncrsh_site.errors import error_body

logger = logging.getLogger(__name__)

_LOCKED = "ncrsh_login_locked_for"  # request attribute: seconds left, set when a login was refused


def _subjects(request: HttpRequest, username: str | None) -> list[tuple[str, int]]:
    """(cache key stem, failure limit) for the account and for the client's IP."""
    account = hashlib.sha256((username or "").casefold().encode()).hexdigest()[:32]
    ip = request.META.get("REMOTE_ADDR") or "unknown"
    prefix = settings.LOGIN_GUARD_KEY_PREFIX
    return [
        (f"{prefix}account.{account}", settings.LOGIN_MAX_FAILURES),
        (f"{prefix}ip.{ip}", settings.LOGIN_MAX_FAILURES_PER_IP),
    ]


def _locked_for(subjects: list[tuple[str, int]]) -> float:
    until = max((cache.get(f"{stem}.until") or 0.0 for stem, _ in subjects), default=0.0)
    return max(0.0, until - time.time())


def _record_failure(subjects: list[tuple[str, int]]) -> None:
    lockout = settings.LOGIN_LOCKOUT.total_seconds()
    for stem, limit in subjects:
        cache.add(f"{stem}.failures", 0, timeout=lockout)
        if cache.incr(f"{stem}.failures") >= limit:
            cache.set(f"{stem}.until", time.time() + lockout, timeout=lockout)
            cache.delete(f"{stem}.failures")
            logger.warning("login locked for %.0f s after %d failures (%s)", lockout, limit, stem)


class GuardedModelBackend(ModelBackend):
    """Django's username/password backend behind the lockout above."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if request is None:  # a management command or a test calling authenticate() directly
            return super().authenticate(request, username, password, **kwargs)
        raw: HttpRequest = getattr(request, "_request", request)  # DRF wraps the request
        subjects = _subjects(raw, username if username is not None else kwargs.get("username"))
        try:
            wait = _locked_for(subjects)
        except (RedisError, OSError):
            logger.warning("login guard cache unavailable; letting the login through", exc_info=True)
            return super().authenticate(request, username, password, **kwargs)
        if wait:
            setattr(raw, _LOCKED, wait)
            raise PermissionDenied  # authenticate() tries no other backend and counts a failed login
        user = super().authenticate(request, username, password, **kwargs)
        try:
            if user is None:
                _record_failure(subjects)
            else:
                cache.delete(f"{subjects[0][0]}.failures")
        except (RedisError, OSError):
            logger.warning("login guard cache unavailable; a login was not counted", exc_info=True)
        return user


class LoginLockoutMiddleware:
    """Answers a login refused by the lockout with 429 and Retry-After, on every login path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        wait = getattr(request, _LOCKED, None)
        if wait is None:
            return response
        retry_after = max(1, round(wait))
        detail = f"Too many failed logins; try again in {retry_after} s."
        locked = JsonResponse(error_body(429, "LOGIN_LOCKED", detail), status=429)
        locked["Retry-After"] = str(retry_after)
        return locked
