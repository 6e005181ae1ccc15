"""``ncrsh data prepare``: a real process, its own SQLite registry and datasets folder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.engine.conftest import SHARED_DATA
from tests.support.live import NCRSH, server_env


def prepare(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = server_env(home, {"DATABASE_URL": "", "NCRSH_DATA_ROOTS": str(SHARED_DATA)})
    return subprocess.run(
        [NCRSH, "data", "prepare", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_it_prepares_a_dataset_with_progress_and_registers_it_once(tmp_path: Path) -> None:
    done = prepare(tmp_path, "file:wikitext-2/valid.txt", "--tokenizer", "bpe", "--vocab-size", "512")
    assert done.returncode == 0, done.stderr
    name = "wikitext-2-valid-bpe512"
    assert "training a byte-level BPE tokenizer" in done.stderr
    assert "M tokens/s" in done.stderr  # the progress line
    assert done.stdout.startswith(f"{name}: ")
    assert "vocab 512" in done.stdout
    manifest = json.loads((tmp_path / "datasets" / name / "manifest.json").read_text())
    assert manifest["tokenizer"]["spec"] == "bpe"
    assert manifest["source"] == "file:wikitext-2/valid.txt"
    again = prepare(tmp_path, "file:wikitext-2/valid.txt", "--tokenizer", "bpe", "--vocab-size", "512")
    assert again.returncode == 0
    assert "already ready" in again.stdout


def test_bad_input_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    for args, says in [
        (("file:wikitext-2/valid.txt", "--tokenizer", "wordpiece"), "unknown tokenizer"),
        (("file:missing.txt", "--name", "m"), "no file matches"),
        (("file:wikitext-2/valid.txt", "--tokenizer", "file:nope.json"), "no file matches"),
    ]:
        done = prepare(tmp_path, *args)
        assert done.returncode != 0
        assert says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not any((tmp_path / "datasets").glob("*/manifest.json"))
