"""Real services for tests. Outside CI a missing service skips the test; in CI (CI=true) it fails."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


class OwnRedis:
    """A redis-server of the test's own on a free port, to stop and start again (an outage):
    the shared one serves other tests. Nothing is persisted: a restart loses every key, as a
    failover to an empty replica would."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            missing("redis-server (Debian package redis-server)")
        log = (self.folder / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def own_redis(folder: Path) -> Iterator[OwnRedis]:
    with socket.socket() as sock:  # a free port
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = OwnRedis(port, folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
