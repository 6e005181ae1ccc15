from __future__ import annotations

import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer, fresh_database, live_server, server_env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One embedded ``ncrsh serve`` per test module (2 local nodes), with a dataset folder named
    ``custom_dataset`` as in the spec's SDK example, TensorBoard event files on."""
    home = tmp_path_factory.mktemp("home")
    dataset = home / "data" / "custom_dataset"
    dataset.mkdir(parents=True)
    for module in ("argparse", "dataclasses", "functools", "pathlib"):
        source = Path(sysconfig.get_paths()["stdlib"]) / f"{module}.py"
        (dataset / f"{module}.txt").write_text(source.read_text())
    env = server_env(
        home,
        {
            "NCRSH_LOCAL_NODES": "2",
            "NCRSH_DATA_DIR": str(home / "data"),
            "NCRSH_RATE_LIMIT_TRAINING": "1000",
            # Tracking on, and a peak for this CPU (none is known) so that MFU is reported.
            "NCRSH_TENSORBOARD": "true",
            "NCRSH_PEAK_TFLOPS": "1",
        },
    )
    with fresh_database(home) as db, live_server(env | db) as running:
        yield running
