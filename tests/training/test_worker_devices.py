"""What `ncrsh worker` trains on: --device, --gpus, --nproc (training.worker.WorkerDevices)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.live import NCRSH
from training.worker import WorkerDevices


def test_one_device_is_one_rank_and_a_gpu_is_seen_by_the_child_as_its_only_one() -> None:
    assert WorkerDevices.parse() == WorkerDevices("cpu", ("cpu",), None, ("cpu",))
    assert WorkerDevices.parse(device="cuda:3") == WorkerDevices("cuda:3", ("cuda:0",), "3", ("cuda:3",))
    assert WorkerDevices.parse(gpus="3") == WorkerDevices.parse(device="cuda:3")  # the same node id


def test_several_gpus_are_one_node_with_a_rank_on_each() -> None:
    devices = WorkerDevices.parse(gpus="2, 5")
    assert devices.label == "cuda:2,5"
    assert devices.ranks == ("cuda:0", "cuda:1")  # as the child sees them, under CUDA_VISIBLE_DEVICES=2,5
    assert devices.visible == "2,5"
    assert devices.physical == ("cuda:2", "cuda:5")


def test_nproc_is_one_node_of_cpu_ranks_that_share_the_host_memory() -> None:
    devices = WorkerDevices.parse(nproc=4)
    assert (devices.label, devices.ranks, devices.visible) == ("cpu*4", ("cpu",) * 4, None)
    host = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert devices.memory() == host // 4  # each holds a whole replica (DDP)
    assert WorkerDevices.parse(nproc=4, fsdp=True).memory() == host  # sharded over them
    assert WorkerDevices.parse(nproc=1) == WorkerDevices.parse()


def test_a_gpu_node_may_plan_on_its_gpus_memory_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    smi = tmp_path / "nvidia-smi"
    # One call for all the node's GPUs: -i 0,1.
    smi.write_text(
        '#!/bin/sh\ncase "$*" in *"-i 0,1") echo "0, A, 81559, 0, 0"; echo "1, B, 40960, 0, 0";;'
        ' *"-i 1") echo "1, B, 40960, 0, 0";; *) exit 6;; esac\n'
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert WorkerDevices.parse(gpus="0,1").memory() == (81559 + 40960) << 20  # sharded if need be (FSDP)
    assert WorkerDevices.parse(gpus="1").memory() == 40960 << 20
    assert WorkerDevices.parse(gpus="0,7").memory() is None  # one that cannot be told


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gpus": "0,0"}, "--gpus takes distinct GPU indexes"),
        ({"gpus": "0,x"}, "--gpus takes distinct GPU indexes"),
        ({"gpus": "0", "nproc": 2}, "without --device or --nproc"),
        ({"gpus": "0", "device": "cuda:1"}, "without --device or --nproc"),
        ({"nproc": 0}, "--nproc starts N CPU processes"),
        ({"nproc": 2, "device": "cuda:0"}, "for GPUs use --gpus"),
        ({"device": "tpu"}, "--device is cpu or cuda:N"),
        ({"fsdp": True}, "--fsdp shards the model over the node's processes"),
        ({"gpus": "0", "fsdp": True}, "--fsdp shards the model over the node's processes"),
    ],
)
def test_options_that_name_no_node_are_refused_with_what_to_change(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkerDevices.parse(**options)  # type: ignore[arg-type]


def test_the_worker_command_refuses_options_that_name_no_node_before_it_starts(tmp_path: Path) -> None:
    env = {**os.environ, "NCRSH_HOME": str(tmp_path)}
    refused = subprocess.run(
        [NCRSH, "worker", "--gpus", "0,0"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert refused.returncode == 1
    assert "ncrsh worker: --gpus takes distinct GPU indexes, e.g. 0,1,2,3; got '0,0'" in refused.stderr
    shown = subprocess.run([NCRSH, "worker", "--help"], capture_output=True, text=True, timeout=120, check=True)
    assert all(option in shown.stdout for option in ("--gpus", "--nproc", "--fsdp"))
