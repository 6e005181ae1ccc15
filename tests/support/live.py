"""Start real ``ncrsh serve`` (daphne) processes for end-to-end tests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

T = TypeVar("T")
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "correct-horse-battery-staple"
NCRSH = str(Path(sys.executable).with_name("ncrsh"))


def poll(fetch: Callable[[], T], until: Callable[[T], bool], *, timeout: float, what: str, every: float = 0.5) -> T:
    """``fetch()`` until ``until`` holds of its value; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}: {value}")
        time.sleep(every)


def serving(url: str, process: subprocess.Popen[bytes], log: Path) -> bool:
    """Whether the server at ``url`` answers its liveness probe; an exited process is a failure."""
    if process.poll() is not None:
        raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
    try:
        return httpx.get(f"{url}/health/live", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def stop(process: subprocess.Popen[bytes], *, grace: float) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL if it is still there after ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def login(self, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> str:
        response = httpx.post(f"{self.url}/api/v1/auth/login", json={"username": username, "password": password})
        response.raise_for_status()
        return str(response.json()["access"])


@contextmanager
def fresh_database(home: Path, *, postgres: str | None = None) -> Iterator[dict[str, str]]:
    """A database of the test's own: a new PostgreSQL database when DATABASE_URL (or
    ``postgres``) names one, dropped afterwards; otherwise SQLite under the server's state folder."""
    url = postgres or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield {"DATABASE_URL": ""}
        return
    name = f"ncrsh_live_{secrets.token_hex(4)}"
    parts = urlsplit(url)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))}
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NCRSH_")}
    env.update(
        NCRSH_HOME=str(home),
        NCRSH_ADMIN_USERNAME=ADMIN_USERNAME,
        NCRSH_ADMIN_PASSWORD=ADMIN_PASSWORD,
        NCRSH_CACHE_PREFIX=f"test-{secrets.token_hex(4)}",
        REDIS_URL="",
    )
    env.update(extra)
    return env


@contextmanager
def worker_process(env: Mapping[str, str], node_id: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``ncrsh worker --node <id> [args]``: a Celery worker that is a swarm node."""
    log = Path(env["NCRSH_HOME"]) / f"worker-{node_id}.log"
    with log.open("ab") as sink:  # a restarted worker adds to its log
        process = subprocess.Popen(
            [NCRSH, "worker", "--node", node_id, *args],
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the Celery child goes with it
        )
    try:
        yield process
    finally:
        stop(process, grace=30)


@contextmanager
def live_server(env: Mapping[str, str], *, timeout: float = 90.0) -> Iterator[LiveServer]:
    port = free_port()
    log = Path(env["NCRSH_HOME"]) / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [NCRSH, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, port, log)
    try:
        poll(lambda: serving(server.url, process, log), bool, timeout=timeout, what="the server", every=0.2)
        yield server
    finally:
        stop(process, grace=10)
