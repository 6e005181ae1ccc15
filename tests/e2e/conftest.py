from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer, fresh_database, live_server, server_env


@pytest.fixture
def server_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def server(server_home: Path) -> Iterator[LiveServer]:
    """One real ``ncrsh serve`` process on its own database, in embedded mode."""
    with fresh_database(server_home) as db, live_server(server_env(server_home, db)) as running:
        yield running
