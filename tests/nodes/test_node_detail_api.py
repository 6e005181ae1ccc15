from __future__ import annotations

import os
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from nodes.hardware import gpus
from nodes.models import Node, NodeStatus
from nodes.services import node_heartbeat, node_register
from training.worker import WorkerDevices

pytestmark = pytest.mark.django_db


def test_it_returns_the_node_with_its_full_config(member_client: APIClient) -> None:
    config = {
        "model_config": {"hidden_size": 64, "num_layers": 2, "num_heads": 4},
        "network_config": {"port": 9000, "max_peers": 3},
    }
    node = Node.objects.create(config=config)
    body = member_client.get(f"/api/v1/nodes/{node.id}").json()
    assert body["id"] == node.id
    assert body["config"] == config
    assert set(body) >= {"address", "status", "model_hash", "last_seen", "performance", "created_at"}


def test_an_unknown_node_is_404_with_code_1001(member_client: APIClient) -> None:
    response = member_client.get("/api/v1/nodes/node_00000000")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": 1001, "message": "NODE_NOT_FOUND", "detail": "No node with id 'node_00000000'."}
    }


def test_staff_deletes_a_node(staff_client: APIClient) -> None:
    node = Node.objects.create()
    assert staff_client.delete(f"/api/v1/nodes/{node.id}").status_code == 204
    assert not Node.objects.filter(id=node.id).exists()
    assert staff_client.delete(f"/api/v1/nodes/{node.id}").json()["error"]["code"] == 1001


def test_a_non_staff_user_may_not_delete_nodes(member_client: APIClient) -> None:
    node = Node.objects.create()
    assert member_client.delete(f"/api/v1/nodes/{node.id}").status_code == 403
    assert Node.objects.filter(id=node.id).exists()


def test_a_training_node_cannot_be_deleted_from_under_its_session(staff_client: APIClient) -> None:
    node = Node.objects.create(status=NodeStatus.TRAINING)
    response = staff_client.delete(f"/api/v1/nodes/{node.id}")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "CONFLICT"
    assert "stop it first" in response.json()["error"]["detail"]
    assert Node.objects.filter(id=node.id).exists()


def test_a_registered_worker_reports_its_device_memory(member_client: APIClient) -> None:
    node = node_register(node_id="node_worker", address="host/cpu", memory_total=WorkerDevices.parse().memory())
    body = member_client.get(f"/api/v1/nodes/{node.id}").json()
    assert body["memory_total"] == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") > 0
    assert gpus("cuda:x") == []  # not a GPU index: nothing is run
    assert body["gpus"] == []  # a CPU worker


def test_a_gpu_worker_reports_its_gpus_as_nvidia_smi_names_them(
    member_client: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nvidia-smi stands in as a script that answers the query it is asked, for the GPUs it is asked.
    smi = tmp_path / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\n"
        'case "$*" in *"--query-gpu=index,name,memory.total,memory.used,utilization.gpu'
        ' --format=csv,noheader,nounits -i 1"*) echo "1, NVIDIA H100 80GB HBM3, 81559, 1024, 37";; *) exit 6;; esac\n'
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = gpus("cuda:1")
    assert found == [
        {
            "index": 1,
            "name": "NVIDIA H100 80GB HBM3",
            "memory_total": 81559 << 20,
            "memory_used": 1024 << 20,
            "utilization": 0.37,
        }
    ]
    assert WorkerDevices.parse(device="cuda:1").memory() == 81559 << 20
    assert gpus("cuda:0") == []  # nvidia-smi failed: nothing is made up
    node = node_register(node_id="node_gpu", address="host/cuda:1", memory_total=81559 << 20, gpus=found)
    body = member_client.get(f"/api/v1/nodes/{node.id}").json()
    assert body["gpus"] == found
    assert body["memory_total"] == 81559 << 20

    # Each heartbeat brings its GPUs' figures of the moment; a figure nvidia-smi cannot give is null.
    busy = [{**found[0], "memory_used": 70_000 << 20, "utilization": None}]
    assert node_heartbeat(node_id=node.id, performance={}, gpus=busy)
    assert member_client.get(f"/api/v1/nodes/{node.id}").json()["gpus"] == busy
    assert node_heartbeat(node_id=node.id, performance={})  # a CPU worker's beat leaves them as they are
    assert member_client.get(f"/api/v1/nodes/{node.id}").json()["gpus"] == busy
