"""State files are the owner's alone (issue 17): on main at dabd97c the embedded SQLite database,
with live refresh tokens and password hashes, was created world-readable (0644), and another
local user took the admin's refresh token."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.live import live_server, server_env


def test_a_fresh_embedded_server_creates_its_state_for_its_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = server_env(home, {"DATABASE_URL": "", "NCRSH_LOCAL_NODES": "0"})
    with live_server(env) as server:
        server.login()  # a refresh token is written to the database
        created = [p for p in home.rglob("*") if not p.name.startswith("server-")]  # the test's own log
        open_to_others = {
            str(p.relative_to(home)): oct(stat.S_IMODE(p.stat().st_mode))
            for p in created
            if stat.S_IMODE(p.stat().st_mode) & 0o077
        }
    assert any(p.suffix == ".sqlite3" for p in created), sorted(map(str, created))
    assert any(p.name == "jwt_private.pem" for p in created)
    assert open_to_others == {}
