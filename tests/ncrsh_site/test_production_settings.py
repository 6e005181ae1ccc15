"""Production settings pass ``check --deploy`` and refuse unsafe configurations at start-up."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from ncrsh_site import bootstrap
from ncrsh_site.config import ConfigError
from ncrsh_site.keys import create_keypair

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def production_env(tmp_path: Path) -> dict[str, str]:
    create_keypair(tmp_path / "jwt.pem", tmp_path / "jwt.pub")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NCRSH_")}
    env.update(
        NCRSH_ENV="production",
        NCRSH_HOME=str(tmp_path / "home"),
        NCRSH_SECRET_KEY="x7-" + "k2Q9vLmZ4pR8sT1wY6bN3cF5hJ0gD" * 2,
        NCRSH_ALLOWED_HOSTS="swarm.example.com",
        NCRSH_JWT_PRIVATE_KEY_FILE=str(tmp_path / "jwt.pem"),
        NCRSH_JWT_PUBLIC_KEY_FILE=str(tmp_path / "jwt.pub"),
    )
    return env


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_has_no_warnings(production_env: dict[str, str]) -> None:
    result = _check(production_env)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"NCRSH_DEBUG": "true"}, "NCRSH_DEBUG"),
        ({"NCRSH_SECRET_KEY": ""}, "NCRSH_SECRET_KEY"),
        ({"NCRSH_SECRET_KEY": "short"}, "NCRSH_SECRET_KEY"),
        ({"NCRSH_ALLOWED_HOSTS": ""}, "NCRSH_ALLOWED_HOSTS"),
        ({"NCRSH_ALLOWED_HOSTS": "swarm.example.com,*"}, "NCRSH_ALLOWED_HOSTS"),
        ({"NCRSH_TOKEN_EXPIRY": "7d"}, "NCRSH_TOKEN_EXPIRY"),
        ({"NCRSH_REFRESH_TOKEN_EXPIRY": "3650d"}, "NCRSH_REFRESH_TOKEN_EXPIRY"),
        ({"NCRSH_JWT_PRIVATE_KEY_FILE": "/nonexistent/jwt.pem"}, "NCRSH_JWT_PRIVATE_KEY_FILE"),
        ({"NCRSH_JWT_PUBLIC_KEY_FILE": "/nonexistent/jwt.pub"}, "NCRSH_JWT_PUBLIC_KEY_FILE"),
    ],
)
def test_production_refuses_to_start(production_env: dict[str, str], change: dict[str, str], named: str) -> None:
    result = _check(production_env | change)
    assert result.returncode != 0
    assert f"ConfigError: {named}" in result.stderr


def test_mismatched_keys_are_refused(production_env: dict[str, str], tmp_path: Path) -> None:
    create_keypair(tmp_path / "other.pem", tmp_path / "other.pub")
    result = _check(production_env | {"NCRSH_JWT_PUBLIC_KEY_FILE": str(tmp_path / "other.pub")})
    assert "does not match the private key" in result.stderr


def test_production_does_not_create_keys(production_env: dict[str, str]) -> None:
    env = {k: v for k, v in production_env.items() if not k.startswith("NCRSH_JWT_")}
    result = _check(env)
    assert "ConfigError: NCRSH_JWT_PRIVATE_KEY_FILE" in result.stderr
    assert not (Path(env["NCRSH_HOME"]) / "keys").exists()


def test_a_private_key_others_can_read_is_refused(production_env: dict[str, str]) -> None:
    Path(production_env["NCRSH_JWT_PRIVATE_KEY_FILE"]).chmod(0o644)
    result = _check(production_env)
    assert "ConfigError: NCRSH_JWT_PRIVATE_KEY_FILE: jwt.pem is readable by others" in result.stderr


@pytest.mark.django_db
def test_production_runs_the_password_validators_on_the_admin_it_creates(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PRODUCTION = True
    monkeypatch.setenv("NCRSH_ADMIN_USERNAME", "root")
    monkeypatch.setenv("NCRSH_ADMIN_PASSWORD", "x")
    with pytest.raises(ConfigError, match="NCRSH_ADMIN_PASSWORD: This password is too short"):
        bootstrap.ensure_admin(io.StringIO())
    assert not User.objects.filter(username="root").exists()
    monkeypatch.setenv("NCRSH_ADMIN_PASSWORD", "a-long-Unusual-passphrase-42")
    bootstrap.ensure_admin(io.StringIO())
    assert User.objects.get(username="root").check_password("a-long-Unusual-passphrase-42")
