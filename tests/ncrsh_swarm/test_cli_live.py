"""The ``ncrsh`` client commands, run as a user would, against a live embedded server."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.live import ADMIN_PASSWORD, ADMIN_USERNAME, NCRSH, LiveServer, poll

pytestmark = pytest.mark.live
Ncrsh = Callable[..., subprocess.CompletedProcess[str]]
QUICK = ["--preset", "tiny", "--batch-size", "8", "--local-steps", "5", "--log-every", "2"]


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli") / "ncrsh" / "credentials.json"


@pytest.fixture(scope="module")
def ncrsh(server: LiveServer, credentials: Path) -> Ncrsh:
    def run(*args: str, password: str = ADMIN_PASSWORD, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NCRSH_")}
        env.update(NCRSH_URL=server.url, NCRSH_CREDENTIALS=str(credentials), NCRSH_PASSWORD=password)
        return subprocess.run([NCRSH, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)

    return run


@pytest.fixture(scope="module", autouse=True)
def logged_in(ncrsh: Ncrsh, credentials: Path) -> None:
    result = ncrsh("login", "--username", ADMIN_USERNAME)
    assert result.returncode == 0, result.stderr
    assert f"token saved to {credentials}" in result.stdout


def test_login_keeps_the_token_in_a_file_only_its_owner_reads(credentials: Path) -> None:
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    saved = json.loads(credentials.read_text())
    assert saved["username"] == ADMIN_USERNAME
    assert saved["access"].count(".") == 2


def test_a_wrong_password_prints_the_error_and_exits_non_zero(ncrsh: Ncrsh, credentials: Path) -> None:
    before = credentials.read_text()
    result = ncrsh("login", "--username", ADMIN_USERNAME, password="wrong")
    assert result.returncode == 1
    assert "ncrsh: error 401" in result.stderr
    assert credentials.read_text() == before  # the saved login stays


def test_nodes_list_prints_a_table_or_json(ncrsh: Ncrsh) -> None:
    table = ncrsh("nodes", "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "STATUS", "ADDRESS"]
    assert sum(line.startswith("node_") for line in lines) == 2
    assert lines[-1] == "2 nodes, 2 active"
    listed = json.loads(ncrsh("nodes", "list", "--json").stdout)
    assert (listed["total"], listed["active"]) == (2, 2)


def test_train_start_watch_follows_the_session_to_its_end(ncrsh: Ncrsh) -> None:
    result = ncrsh("train", "start", "--dataset", "builtin:pystdlib", "--max-steps", "30", *QUICK, "--watch")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("started training_")
    # Off a terminal the bar writes one line per report: loss and accuracy in each.
    bars = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(bars) >= 3
    assert all(" loss " in line and " acc " in line for line in bars)
    assert bars[-1].startswith("[########################] 100%")
    final = result.stdout.splitlines()[-1]
    assert " completed: val loss " in final
    assert "model model_" in final

    status = json.loads(ncrsh("train", "status", "--json").stdout)
    assert status["status"] == "completed"
    assert status["session_id"] in result.stdout
    assert "completed" in ncrsh("train", "status").stdout
    # MFU against the configured peak (NCRSH_PEAK_TFLOPS=1 for this CPU), per node and in all.
    assert all(0 < node["mfu"] < 1 for node in status["nodes"])
    assert status["progress"]["mfu"] == pytest.approx(sum(n["mfu"] for n in status["nodes"]) / 2)


def test_a_finished_session_has_its_loss_series_in_tensorboard(ncrsh: Ncrsh, server: LiveServer) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    status = json.loads(ncrsh("train", "status", "--json").stdout)  # the session trained above
    assert status["status"] == "completed"
    runs = server.log.parent / "runs" / status["session_id"]
    for node in status["nodes"]:
        events = EventAccumulator(str(runs / node["id"]))
        events.Reload()
        losses = events.Scalars("train/loss")
        assert len(losses) >= 10  # every 2nd of 30 steps
        assert [e.step for e in losses] == sorted(e.step for e in losses)
        assert losses[-1].value < losses[0].value  # it learned
        assert {
            "train/bits_per_byte",
            "train/tokens_per_s",
            "train/mfu",
            "train/round_overhead",
            "round/seconds",
            "round/bytes_sent",
            "round/approvals",
        } <= set(events.Tags()["scalars"])
        assert all(0 <= e.value < 1 for e in events.Scalars("train/round_overhead"))


def test_a_bad_setting_prints_the_field_and_exits_non_zero(ncrsh: Ncrsh) -> None:
    result = ncrsh("train", "start", "--dataset", "no_such_dataset", *QUICK)
    assert result.returncode == 1
    assert result.stderr.startswith("ncrsh: error 400 VALIDATION_ERROR: dataset: ")


def test_models_list_and_download_with_verification(ncrsh: Ncrsh, tmp_path: Path) -> None:
    models = json.loads(ncrsh("models", "list", "--json").stdout)
    assert models
    model = models[0]
    assert model["id"] in ncrsh("models", "list").stdout
    result = ncrsh("models", "download", model["id"], "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    path = tmp_path / f"{model['id']}.safetensors"
    assert f"saved {path} (sha256 verified)" in result.stdout
    assert hashlib.sha256(path.read_bytes()).hexdigest() == model["sha256"]
    missing = ncrsh("models", "download", "model_nope", "-o", str(tmp_path))
    assert missing.returncode == 1
    assert "error 404 NOT_FOUND" in missing.stderr


def test_a_trained_model_exported_for_hugging_face_computes_the_engines_logits(ncrsh: Ncrsh, tmp_path: Path) -> None:
    import torch
    import transformers

    from engine.checkpoint import load_checkpoint
    from engine.config import ModelConfig
    from engine.model import build_model
    from engine.tokenizer import Tokenizer

    model = json.loads(ncrsh("models", "list", "--json").stdout)[0]  # a trained session's
    assert ncrsh("models", "download", model["id"], "-o", str(tmp_path)).returncode == 0
    result = ncrsh("models", "export", model["id"], "--format", "hf", "-o", str(tmp_path / "hf"))
    assert result.returncode == 0, result.stderr
    assert "config.json" in result.stdout
    saved = load_checkpoint(tmp_path / f"{model['id']}.safetensors", sha256=model["sha256"])
    config = ModelConfig(**saved.metadata["model_config"])
    engine = build_model(config, seed=0)
    engine.load_state_dict({k: v for k, v in saved.tensors.items() if k in engine.state_dict()})
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    batch = torch.randint(0, config.vocab_size, (2, config.seq_len), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.allclose(engine.eval()(batch)[0], hf(batch).logits, atol=1e-4)
    text = "The swarm trained me.\n"
    spec = saved.metadata["tokenizer"]
    ours = Tokenizer.from_json(spec["spec"], spec["json"]).encode_batch([text])[0].tolist()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == ours


def test_fifty_tokens_sampled_from_a_trained_model(ncrsh: Ncrsh) -> None:
    model = json.loads(ncrsh("models", "list", "--json").stdout)[0]  # a trained session's
    args = ("models", "sample", model["id"], "--prompt", "The ", "--max-new-tokens", "50", "--seed", "1")
    sample = json.loads(ncrsh(*args, "--top-k", "20", "--json").stdout)
    assert (sample["model_id"], sample["prompt"], sample["tokens"]) == (model["id"], "The ", 50)
    printed = ncrsh(*args, "--top-k", "20")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == f"The {sample['completion']}\n"  # the same seed, the same text
    refused = ncrsh("models", "sample", model["id"], "--max-new-tokens", "1000000")
    assert refused.returncode == 1
    assert "error 400 VALIDATION_ERROR: max_new_tokens" in refused.stderr
    unknown = ncrsh("models", "sample", "model_nope")
    assert (unknown.returncode, "error 404 NOT_FOUND" in unknown.stderr) == (1, True)


def test_consensus_history_and_network_topology(ncrsh: Ncrsh) -> None:
    history = ncrsh("consensus", "history", "--limit", "3")
    assert history.returncode == 0, history.stderr
    assert history.stdout.splitlines()[0].split()[:2] == ["ROUND", "OUTCOME"]
    assert "committed" in history.stdout
    assert len(json.loads(ncrsh("consensus", "history", "--limit", "3", "--json").stdout)) == 3
    topology = ncrsh("network", "topology")
    assert topology.returncode == 0, topology.stderr
    assert "all_to_all over memory" in topology.stdout
    assert "FROM" in topology.stdout  # the edges of the last session


def test_a_bad_token_prints_401(ncrsh: Ncrsh) -> None:
    result = ncrsh("nodes", "list", "--token", "not-a-token")
    assert result.returncode == 1
    assert result.stderr.startswith("ncrsh: error 401")


def test_an_expired_saved_token_is_refreshed(ncrsh: Ncrsh, credentials: Path) -> None:
    saved = json.loads(credentials.read_text())
    credentials.write_text(json.dumps({**saved, "access": "expired"}))
    result = ncrsh("nodes", "list")
    assert result.returncode == 0, result.stderr
    renewed = json.loads(credentials.read_text())
    assert renewed["access"] not in ("expired", saved["access"])
    assert renewed["refresh"] != saved["refresh"]  # rotated


def test_train_stop_watch_waits_until_every_node_stopped(ncrsh: Ncrsh) -> None:
    started = ncrsh("train", "start", "--dataset", "builtin:pystdlib", "--max-steps", "100000", *QUICK, "--json")
    assert started.returncode == 0, started.stderr
    session_id = json.loads(started.stdout)["session_id"]
    busy = ncrsh("train", "start", "--dataset", "builtin:pystdlib", *QUICK)
    assert busy.returncode == 1
    assert busy.stderr.startswith("ncrsh: error 1002 TRAINING_IN_PROGRESS")
    stopped = ncrsh("train", "stop", "--watch")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.splitlines()[0] == f"{session_id}: stopping; every node stops after its current step"
    assert stopped.stdout.splitlines()[-1].startswith(f"{session_id} stopped: val loss ")
    assert json.loads(ncrsh("train", "status", "--json").stdout)["status"] == "stopped"


def test_an_operator_approves_the_proposals_of_a_round_from_the_terminal(ncrsh: Ncrsh) -> None:
    started = ncrsh(
        "train", "start", "--dataset", "builtin:pystdlib", "--max-steps", "5", *QUICK, "--local-steps", "5",
        "--deadline", "60", "--require-operator-approval", "--json",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    session_id = json.loads(started.stdout)["session_id"]
    status = poll(
        lambda: json.loads(ncrsh("consensus", "status", "--json").stdout),
        lambda s: s["session_id"] == session_id and s["phase"] == "voting" and len(s["proposals"]) == 2,
        timeout=120,
        what="the round to wait for the operator",
    )
    table = ncrsh("consensus", "status").stdout
    assert "voting; quorum 0.67, 2 needed, operator approval required" in table
    for proposal in status["proposals"]:
        voted = ncrsh("consensus", "vote", proposal["proposal_id"], "--approve", "--reason", "looks fine")
        assert voted.returncode == 0, voted.stderr
        assert voted.stdout.strip() == f"operator:admin approves {proposal['proposal_id']} in {status['round_id']}"
    again = ncrsh("consensus", "vote", status["proposals"][0]["proposal_id"], "--reject")
    assert again.returncode == 1
    assert "error 409" in again.stderr
    done = poll(
        lambda: json.loads(ncrsh("train", "status", "--json").stdout),
        lambda s: s["status"] != "running",
        timeout=120,
        what="the session to end",
    )
    assert done["status"] == "completed"
    history = json.loads(ncrsh("consensus", "history", "--session", session_id, "--json").stdout)
    assert history[0]["committed"] is True
    assert len(history[0]["accepted"]) == 2
