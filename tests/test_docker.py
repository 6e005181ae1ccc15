"""The images and the compose file, checked without a Docker daemon (none runs on the CI
machine, and no base image could be pulled): hadolint on both Dockerfiles, and the compose
file's structure — every build, bind mount, volume, dependency and scrape target it names
exists (issue 15)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
HADOLINT = str(Path(sys.executable).with_name("hadolint"))


@pytest.mark.parametrize("dockerfile", ["Dockerfile.web", "Dockerfile.worker"])
def test_the_dockerfiles_pass_hadolint_and_copy_what_exists(dockerfile: str) -> None:
    linted = subprocess.run(
        [HADOLINT, "--config", str(ROOT / ".hadolint.yaml"), str(DOCKER / dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    text = (DOCKER / dockerfile).read_text()
    copied = [src for line in re.findall(r"^COPY (.+)$", text, re.MULTILINE) for src in line.split()[:-1]]
    assert copied
    assert [src for src in copied if not (ROOT / src).exists()] == []


def test_the_worker_image_uses_its_cuda_bases_own_python() -> None:
    text = (DOCKER / "Dockerfile.worker").read_text()
    assert "FROM nvidia/cuda:" in text
    assert "ubuntu24.04" in text
    assert "python3.11" not in text  # Ubuntu 24.04 ships 3.12 only
    assert "python3 -m venv" in text


def test_the_compose_file_names_only_what_exists() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services, volumes = compose["services"], set(compose.get("volumes") or {})
    assert {"postgres", "redis", "web", "worker", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        assert ("image" in service) != ("build" in service), name
        if "build" in service:
            context = (DOCKER / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).is_file(), name
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, (name, dependency)
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0]
            if source.startswith("."):
                if source != "./secrets":  # made by the operator (see the file's header)
                    assert (DOCKER / source).exists(), (name, source)
            else:
                assert source in volumes, (name, source)
    scrape = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert targets == ["web:8080"]
    assert "8080:8080" in services["web"]["ports"]
