"""Server configuration: the spec's YAML format, overridden by environment variables.

Pure Python (no Django) so the CLI and the settings module share one strict reader. Every
problem is a ``ConfigError`` naming the key, raised at start-up, never a silent default.

YAML keys (all optional; the spec's "Configuration" section plus the rate-limit tiers)::

    api:
      host: "0.0.0.0"              # NCRSH_HOST
      port: 8080                   # NCRSH_PORT
      cors_enabled: true           # NCRSH_CORS_ENABLED
      rate_limit: 100              # NCRSH_RATE_LIMIT             anonymous requests/minute per IP
      rate_limit_authenticated: 1000  # NCRSH_RATE_LIMIT_AUTHENTICATED  per user
      rate_limit_training: 10      # NCRSH_RATE_LIMIT_TRAINING    training endpoints, per user or IP
      jwt_secret: "…"              # NCRSH_JWT_SECRET  passphrase of the RS256 private key PEM, if encrypted
    authentication:
      provider: "jwt"              # the only provider
      token_expiry: "24h"          # NCRSH_TOKEN_EXPIRY  access-token lifetime: 90s, 30m, 24h, 7d
    logging:
      level: "INFO"                # NCRSH_LOG_LEVEL
      format: "json"               # NCRSH_LOG_FORMAT  json (one object per line) or text
    cors:
      origins: [https://dashboard.example.com]   # NCRSH_CORS_ORIGINS (comma-separated)
      methods: [GET, POST, PUT, DELETE]          # NCRSH_CORS_METHODS
      headers: [Authorization, Content-Type]     # NCRSH_CORS_HEADERS
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration value is missing, unknown or malformed; the message names the key."""


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")


def parse_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def parse_int(key: str, value: object, *, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{key}: must be between {low} and {high}, got {number}")
    return number


def parse_duration(key: str, value: object) -> timedelta:
    match = _DURATION.match(str(value)) if isinstance(value, str | int) else None
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(f"{key}: expected a positive duration such as 90s, 30m, 24h or 7d, got {value!r}")
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


def parse_choice(key: str, value: object, choices: tuple[str, ...], *, upper: bool = False) -> str:
    text = str(value).strip()
    text = text.upper() if upper else text.lower()
    if text not in choices:
        raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")
    return text


def parse_str(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def parse_list(key: str, value: object) -> list[str]:
    items: list[object]
    if isinstance(value, str):
        items = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise ConfigError(f"{key}: expected a list, got {value!r}")
    return [parse_str(f"{key}[{i}]", item) for i, item in enumerate(items)]


def parse_origins(key: str, value: object) -> list[str]:
    origins = parse_list(key, value)
    for i, origin in enumerate(origins):
        if not re.match(r"^https?://[^/\s]+$", origin):
            raise ConfigError(f"{key}[{i}]: expected scheme://host[:port] with no path, got {origin!r}")
    return origins


def parse_methods(key: str, value: object) -> list[str]:
    return [parse_choice(f"{key}[{i}]", m, HTTP_METHODS, upper=True) for i, m in enumerate(parse_list(key, value))]


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"  # noqa: S104 - the server is meant to listen on every interface
    port: int = 8080
    cors_enabled: bool = False
    cors_origins: list[str] = field(default_factory=list)
    cors_methods: list[str] = field(default_factory=lambda: ["GET", "POST", "PUT", "DELETE"])
    cors_headers: list[str] = field(default_factory=lambda: ["Authorization", "Content-Type"])
    rate_limit_anonymous: int = 100
    rate_limit_authenticated: int = 1000
    rate_limit_training: int = 10
    jwt_key_passphrase: str | None = None
    token_expiry: timedelta = timedelta(hours=24)
    log_level: str = "INFO"
    log_format: str = "text"


def _rate(key: str, value: object) -> int:
    return parse_int(key, value, low=1, high=1_000_000)


# (yaml section, yaml key) -> (Config field, environment variable, parser)
_FIELDS: dict[tuple[str, str], tuple[str, str, Callable[[str, object], Any]]] = {
    ("api", "host"): ("host", "NCRSH_HOST", parse_str),
    ("api", "port"): ("port", "NCRSH_PORT", lambda k, v: parse_int(k, v, low=1, high=65535)),
    ("api", "cors_enabled"): ("cors_enabled", "NCRSH_CORS_ENABLED", parse_bool),
    ("api", "rate_limit"): ("rate_limit_anonymous", "NCRSH_RATE_LIMIT", _rate),
    ("api", "rate_limit_authenticated"): (
        "rate_limit_authenticated",
        "NCRSH_RATE_LIMIT_AUTHENTICATED",
        _rate,
    ),
    ("api", "rate_limit_training"): ("rate_limit_training", "NCRSH_RATE_LIMIT_TRAINING", _rate),
    ("api", "jwt_secret"): ("jwt_key_passphrase", "NCRSH_JWT_SECRET", parse_str),
    ("authentication", "provider"): ("", "", lambda k, v: parse_choice(k, v, ("jwt",))),
    ("authentication", "token_expiry"): ("token_expiry", "NCRSH_TOKEN_EXPIRY", parse_duration),
    ("logging", "level"): ("log_level", "NCRSH_LOG_LEVEL", lambda k, v: parse_choice(k, v, LOG_LEVELS, upper=True)),
    ("logging", "format"): ("log_format", "NCRSH_LOG_FORMAT", lambda k, v: parse_choice(k, v, LOG_FORMATS)),
    ("cors", "origins"): ("cors_origins", "NCRSH_CORS_ORIGINS", parse_origins),
    ("cors", "methods"): ("cors_methods", "NCRSH_CORS_METHODS", parse_methods),
    ("cors", "headers"): ("cors_headers", "NCRSH_CORS_HEADERS", parse_list),
}


def _read_yaml(path: Path) -> Mapping[str, object]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"NCRSH_CONFIG: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"NCRSH_CONFIG: {path} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"NCRSH_CONFIG: {path} must hold a mapping at the top level")
    return loaded


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Read ``NCRSH_CONFIG`` (if set) and the environment; the environment wins."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sections = {section for section, _ in _FIELDS}
    if env.get("NCRSH_CONFIG"):
        document = _read_yaml(Path(env["NCRSH_CONFIG"]))
        for section, body in document.items():
            if section not in sections:
                raise ConfigError(f"{section}: unknown section (known: {', '.join(sorted(sections))})")
            if not isinstance(body, dict):
                raise ConfigError(f"{section}: expected a mapping, got {body!r}")
            for key, raw in body.items():
                spec = _FIELDS.get((section, key))
                if spec is None:
                    known = ", ".join(k for s, k in _FIELDS if s == section)
                    raise ConfigError(f"{section}.{key}: unknown key (known in {section}: {known})")
                name, _, parse = spec
                parsed = parse(f"{section}.{key}", raw)
                if name:
                    values[name] = parsed
    for (_, _), (name, variable, parse) in _FIELDS.items():
        if variable and env.get(variable, "") != "":
            values[name] = parse(variable, env[variable])
    return Config(**values)


def env_bool(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = environ.get(name, "")
    return default if raw == "" else parse_bool(name, raw)


def env_secret(environ: Mapping[str, str], name: str) -> str | None:
    """``NAME`` itself, or the content of the file named by ``NAME_FILE`` (Docker/K8s secrets)."""
    if environ.get(name):
        return environ[name]
    path = environ.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
