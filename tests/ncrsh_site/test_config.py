from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ncrsh_site.config import Config, ConfigError, load_config

SPEC_EXAMPLE = """
api:
  host: "0.0.0.0"
  port: 8080
  cors_enabled: true
  rate_limit: 100
  jwt_secret: "your_secret_key"

authentication:
  provider: "jwt"
  token_expiry: "24h"

logging:
  level: "INFO"
  format: "json"
"""


def _write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "ncrsh.yaml"
    path.write_text(text)
    return {"NCRSH_CONFIG": str(path)}


def test_without_a_file_or_variables_the_defaults_hold() -> None:
    assert load_config({}) == Config()


def test_the_spec_example_loads(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, SPEC_EXAMPLE))
    assert (config.host, config.port, config.cors_enabled, config.rate_limit_anonymous) == ("0.0.0.0", 8080, True, 100)
    assert config.token_expiry == timedelta(hours=24)
    assert (config.log_level, config.log_format) == ("INFO", "json")
    assert config.jwt_key_passphrase == "your_secret_key"


def test_environment_variables_override_the_file(tmp_path: Path) -> None:
    env = _write(tmp_path, SPEC_EXAMPLE) | {
        "NCRSH_PORT": "9090",
        "NCRSH_TOKEN_EXPIRY": "30m",
        "NCRSH_LOG_FORMAT": "text",
    }
    config = load_config(env)
    assert (config.port, config.token_expiry, config.log_format) == (9090, timedelta(minutes=30), "text")


def test_cors_section(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            "cors:\n  origins: [https://dashboard.example.com]\n  methods: [get, POST]\n  headers: [Authorization]\n",
        )
    )
    assert config.cors_origins == ["https://dashboard.example.com"]
    assert config.cors_methods == ["GET", "POST"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("api:\n  prot: 8080\n", "api.prot"),
        ("apis:\n  port: 8080\n", "apis"),
        ("api:\n  port: 70000\n", "api.port"),
        ("api:\n  port: eighty\n", "api.port"),
        ("api:\n  cors_enabled: yes please\n", "api.cors_enabled"),
        ("api:\n  rate_limit: 0\n", "api.rate_limit"),
        ("authentication:\n  provider: oauth\n", "authentication.provider"),
        ("authentication:\n  token_expiry: forever\n", "authentication.token_expiry"),
        ("logging:\n  level: LOUD\n", "logging.level"),
        ("logging:\n  format: xml\n", "logging.format"),
        ("cors:\n  origins: [dashboard.example.com]\n", "cors.origins[0]"),
        ("cors:\n  methods: [FETCH]\n", "cors.methods[0]"),
        ("api: [1, 2]\n", "api"),
        ("- just\n- a list\n", "NCRSH_CONFIG"),
        ("api: {port: [\n", "NCRSH_CONFIG"),
    ],
)
def test_bad_files_are_errors_that_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path, text))
    assert str(raised.value).startswith(named)


def test_bad_variables_name_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^NCRSH_PORT"):
        load_config({"NCRSH_PORT": "0"})
    with pytest.raises(ConfigError, match=r"^NCRSH_CORS_ENABLED"):
        load_config({"NCRSH_CORS_ENABLED": "1"})


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config({"NCRSH_CONFIG": str(tmp_path / "absent.yaml")})
