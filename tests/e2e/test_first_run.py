"""The README's first command on a fresh state folder: `make run` serves, and the walk-through works."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live import free_port, fresh_database, live_server, poll, server_env, serving

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NCRSH_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(NCRSH_HOME=str(tmp_path / "var"), NCRSH_PORT=str(port))
    log = tmp_path / "make-run.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so make and the server stop together
        )
    url = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: serving(url, process, log), bool, timeout=120, what="make run", every=0.3)
        yield url, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def test_make_run_serves_the_api_with_a_printed_admin_password(make_run: tuple[str, Path]) -> None:
    url, log = make_run
    match = re.search(r"Created admin user 'admin' with the generated password: (\S+)", log.read_text())
    assert match, log.read_text()

    unauthenticated = httpx.get(f"{url}/api/v1/nodes")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["message"] == "NOT_AUTHENTICATED"

    login = httpx.post(f"{url}/api/v1/auth/login", json={"username": "admin", "password": match.group(1)})
    assert login.status_code == 200
    token = login.json()["access"]
    nodes = httpx.get(f"{url}/api/v1/nodes", headers={"Authorization": f"Bearer {token}"}).json()
    assert (nodes["total"], nodes["active"]) == (2, 2)  # the embedded swarm's local nodes
    assert {n["status"] for n in nodes["nodes"]} == {"active"}
    assert httpx.get(f"{url}/health/ready").json()["status"] == "ready"


def test_admin_browsable_api_and_docs_work_with_a_session_login(make_run: tuple[str, Path]) -> None:
    url, log = make_run
    password = re.search(r"generated password: (\S+)", log.read_text())
    assert password
    with httpx.Client(base_url=url) as browser:
        assert browser.get("/static/admin/css/base.css").status_code == 200
        browser.get("/admin/login/")
        response = browser.post(
            "/admin/login/?next=/admin/",
            data={
                "username": "admin",
                "password": password.group(1),
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": f"{url}/admin/login/"},
            follow_redirects=True,
        )
        assert response.status_code == 200
        assert "Swarm nodes" in response.text
        for page in ("nodes/node", "consensus/round", "consensus/proposal", "consensus/vote", "consensus/decision"):
            assert browser.get(f"/admin/{page}/").status_code == 200, page
        api_page = browser.get("/api/v1/nodes", headers={"Accept": "text/html"})
        assert api_page.status_code == 200
        assert "Node Collection" in api_page.text
        assert browser.get("/api/v1/docs/").status_code == 200
        assert browser.get("/api/v1/schema/").status_code == 200


def test_without_local_nodes_the_registry_starts_empty(server_home: Path) -> None:
    env = server_env(server_home, {"NCRSH_LOCAL_NODES": "0"})
    with fresh_database(server_home) as db, live_server(env | db) as server:
        token = server.login()
        nodes = httpx.get(f"{server.url}/api/v1/nodes", headers={"Authorization": f"Bearer {token}"}).json()
    assert {k: nodes[k] for k in ("nodes", "total", "active")} == {"nodes": [], "total": 0, "active": 0}
