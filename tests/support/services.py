"""Real services for tests. Outside CI a missing service skips the test; in CI (CI=true) it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import NoReturn

import pytest
import redis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def missing(what: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} not available")


def redis_url() -> str:
    """REDIS_URL, or the local default when a Redis answers there."""
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        missing(f"Redis at {url}")
    return url


DEFAULT_POSTGRES_URL = "postgres://root@127.0.0.1:5432/test"


def postgres_url() -> str:
    """DATABASE_URL when it names PostgreSQL, or the local default when one answers there."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = DEFAULT_POSTGRES_URL
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error:
        missing(f"PostgreSQL at {url}")
    return url


def promtool_check(exposition: bytes) -> str:
    """``promtool check metrics`` on a /metrics body: its complaints, "" when it passes."""
    promtool = shutil.which("promtool")
    if promtool is None:
        missing("promtool (Debian package prometheus)")
    checked = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, check=False)
    return "" if checked.returncode == 0 else (checked.stdout + checked.stderr).decode() or f"exit {checked.returncode}"


def plan_config(members: list[str] | tuple[str, ...], **request: object) -> dict[str, object]:
    """A session row's config for these members: the plan the start request would have made."""
    from training.plan import SessionPlan

    return SessionPlan.build(members=list(members), request={"dataset": "builtin:pystdlib", **request}).to_json()
