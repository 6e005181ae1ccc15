"""Django settings, read from the environment and the optional YAML file (see config.py).

Embedded default (no variables set): SQLite, local-memory cache, in-memory channel layer,
everything under the state folder ``NCRSH_HOME`` (default ``./var``).
Fleet: ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (cache, Celery broker, channel layer).
``NCRSH_ENV=production`` turns on the deployment checks and refuses unsafe settings.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url

from ncrsh_site.config import (
    ConfigError,
    env_bool,
    env_secret,
    load_config,
    parse_choice,
    parse_duration,
    parse_int,
)
from ncrsh_site.keys import create_keypair, load_keypair

ENV = os.environ
CONFIG = load_config(ENV)

NCRSH_ENV = parse_choice("NCRSH_ENV", ENV.get("NCRSH_ENV") or "development", ("development", "production"))
PRODUCTION = NCRSH_ENV == "production"
NCRSH_HOME = Path(ENV.get("NCRSH_HOME") or "var").resolve()
NCRSH_HOME.mkdir(parents=True, exist_ok=True)
BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool(ENV, "NCRSH_DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ConfigError("NCRSH_DEBUG: must be false when NCRSH_ENV=production")


def parse_int_env(name: str, *, default: int, low: int, high: int) -> int:
    raw = ENV.get(name, "")
    return default if raw == "" else parse_int(name, raw, low=low, high=high)


def _secret_key() -> str:
    key = env_secret(ENV, "NCRSH_SECRET_KEY")
    if key is not None:
        if PRODUCTION and (len(key) < 50 or len(set(key)) < 5):
            raise ConfigError("NCRSH_SECRET_KEY: must be at least 50 random characters in production")
        return key
    if PRODUCTION:
        raise ConfigError("NCRSH_SECRET_KEY: required when NCRSH_ENV=production (or NCRSH_SECRET_KEY_FILE)")
    path = NCRSH_HOME / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()


def _hosts(name: str) -> list[str]:
    return [h.strip() for h in ENV.get(name, "").split(",") if h.strip()]


ALLOWED_HOSTS = _hosts("NCRSH_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    if PRODUCTION:
        raise ConfigError("NCRSH_ALLOWED_HOSTS: required when NCRSH_ENV=production (comma-separated)")
    ALLOWED_HOSTS = ["*"]
elif PRODUCTION and any(host in ("*", ".") for host in ALLOWED_HOSTS):
    raise ConfigError("NCRSH_ALLOWED_HOSTS: name the hosts when NCRSH_ENV=production, not a wildcard")
CSRF_TRUSTED_ORIGINS = _hosts("NCRSH_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_prometheus",
    "channels",
    # django_ratelimit is used as a library only: its app's system check knows no Django
    # built-in Redis cache and would warn on the fleet settings.
    "nodes",
    "training",
    "consensus",
    "models_store",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ncrsh_site.login_guard.LoginLockoutMiddleware",
    "ncrsh_site.throttling.RateLimitHeadersMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "ncrsh_site.urls"
ASGI_APPLICATION = "ncrsh_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "ncrsh_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = ENV.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A down database must fail the readiness probe quickly, not hang it.
        DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 3
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(NCRSH_HOME / "db.sqlite3"),
            # WAL and immediate transactions let the embedded server's threads write without
            # "database is locked" errors.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache (rate limits), Celery broker, channel layer --------------------------------
REDIS_URL = ENV.get("REDIS_URL", "")
CACHE_KEY_PREFIX = ENV.get("NCRSH_CACHE_PREFIX") or "ncrsh"
CACHES: dict[str, dict[str, Any]]
CHANNEL_LAYERS: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    # Pub/sub: an event is one PUBLISH, fanned out by each server to its clients; no per-channel
    # capacity to overflow and no group expiry to drop a long-lived connection.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{CACHE_KEY_PREFIX}:asgi"},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"

# --- The swarm ------------------------------------------------------------------------------
# Embedded: nodes are threads of the server process, tasks run there, updates meet in memory.
# Fleet (REDIS_URL): nodes are `ncrsh worker` processes, each consuming the queue named after it.
EMBEDDED = not REDIS_URL
LOCAL_NODES = parse_int_env("NCRSH_LOCAL_NODES", default=2 if EMBEDDED else 0, low=0, high=64)
if LOCAL_NODES and not EMBEDDED:
    raise ConfigError("NCRSH_LOCAL_NODES: local nodes need the embedded mode (no REDIS_URL); start `ncrsh worker`s")
HEARTBEAT_S = parse_int_env("NCRSH_HEARTBEAT_S", default=5, low=1, high=3600)
OFFLINE_AFTER_S = parse_int_env("NCRSH_OFFLINE_AFTER_S", default=30, low=2, high=86400)
DATA_DIR = Path(ENV.get("NCRSH_DATA_DIR") or NCRSH_HOME / "data").resolve()
# Folders that `file:` dataset specs may read, besides DATA_DIR (os.pathsep-separated).
DATA_ROOTS = [Path(p).resolve() for p in ENV.get("NCRSH_DATA_ROOTS", "").split(os.pathsep) if p]
CHECKPOINT_DIR = NCRSH_HOME / "checkpoints"
# Prepared datasets (token shards), this host's: `ncrsh data prepare`, or on first use.
DATASETS_DIR = Path(ENV.get("NCRSH_DATASETS_DIR") or NCRSH_HOME / "datasets").resolve()
# Opt-in TensorBoard event files per session and node, under NCRSH_HOME/runs/<session>/<node>.
TENSORBOARD = env_bool(ENV, "NCRSH_TENSORBOARD", default=False)
if TENSORBOARD and importlib.util.find_spec("tensorboard") is None:
    raise ConfigError("NCRSH_TENSORBOARD: needs the tensorboard package: pip install 'ncrsh-swarm[tracking]'")
RUNS_DIR = NCRSH_HOME / "runs"
# Opt-in Weights & Biases runs (one per node, grouped by session) in this project; wandb's own
# settings apply (WANDB_API_KEY, WANDB_MODE=offline).
WANDB_PROJECT = ENV.get("NCRSH_WANDB_PROJECT") or None
if WANDB_PROJECT and importlib.util.find_spec("wandb") is None:
    raise ConfigError("NCRSH_WANDB_PROJECT: needs the wandb package: pip install 'ncrsh-swarm[wandb]'")
# MFU's denominator: the device's peak (engine/flops.py knows common GPUs); set it for others.
PEAK_FLOPS = parse_int_env("NCRSH_PEAK_TFLOPS", default=0, low=0, high=1_000_000) * 1e12 or None
# A test-only switch: nodes named here corrupt their updates (scale, sign_flip or nan), as
# "node_id=fault,node_id=fault". Refused in production.
FAULT_INJECTION = dict(item.split("=", 1) for item in ENV.get("NCRSH_FAULT_INJECTION", "").split(",") if "=" in item)
if FAULT_INJECTION and PRODUCTION:
    raise ConfigError("NCRSH_FAULT_INJECTION: not allowed when NCRSH_ENV=production")

CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Longer than any training run, so a long run is never redelivered while it is still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7 * 24 * 3600}
CELERY_TASK_DEFAULT_QUEUE = "ncrsh"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A training run outlives a broker outage (a Redis restart): the worker reconnects meanwhile.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["ncrsh_site.login_guard.GuardedModelBackend"]
# Failed logins per account and per IP within LOGIN_LOCKOUT lock that account or IP for as long.
LOGIN_MAX_FAILURES = parse_int_env("NCRSH_LOGIN_MAX_FAILURES", default=10, low=1, high=1_000_000)
LOGIN_MAX_FAILURES_PER_IP = parse_int_env("NCRSH_LOGIN_MAX_FAILURES_PER_IP", default=50, low=1, high=1_000_000)
LOGIN_LOCKOUT = parse_duration("NCRSH_LOGIN_LOCKOUT", ENV.get("NCRSH_LOGIN_LOCKOUT") or "15m")
LOGIN_GUARD_KEY_PREFIX = "ncrsh.login."
# When set, /metrics answers only scrapers sending it as a bearer token.
METRICS_TOKEN = env_secret(ENV, "NCRSH_METRICS_TOKEN")
# Fleet-level series by default (a node label on every exchange and training series is 34 series
# per node: 340k at 10,000 nodes); true: per-node series instead, for small fleets.
METRICS_PER_NODE = env_bool(ENV, "NCRSH_METRICS_PER_NODE", default=False)
# A scrape within this many seconds of the last one is served the exposition that one built.
METRICS_CACHE_S = parse_int_env("NCRSH_METRICS_CACHE_S", default=5, low=0, high=300)


def _jwt_keys() -> tuple[str, str]:
    private = Path(ENV.get("NCRSH_JWT_PRIVATE_KEY_FILE") or NCRSH_HOME / "keys" / "jwt_private.pem")
    public = Path(ENV.get("NCRSH_JWT_PUBLIC_KEY_FILE") or NCRSH_HOME / "keys" / "jwt_public.pem")
    if not PRODUCTION and not private.exists() and not public.exists():
        create_keypair(private, public)
    if PRODUCTION and private.is_file() and private.stat().st_mode & 0o077:
        raise ConfigError(f"NCRSH_JWT_PRIVATE_KEY_FILE: {private.name} is readable by others (chmod 600 it)")
    return load_keypair(private, public, CONFIG.jwt_key_passphrase)


JWT_PRIVATE_KEY, JWT_PUBLIC_KEY = _jwt_keys()
_refresh_lifetime = max(
    parse_duration("NCRSH_REFRESH_TOKEN_EXPIRY", ENV.get("NCRSH_REFRESH_TOKEN_EXPIRY") or "7d"), CONFIG.token_expiry
)
# A stolen token is good until it expires: production bounds how long that can be.
if PRODUCTION and CONFIG.token_expiry > timedelta(days=1):
    raise ConfigError("NCRSH_TOKEN_EXPIRY: at most 24h when NCRSH_ENV=production")
if PRODUCTION and _refresh_lifetime > timedelta(days=30):
    raise ConfigError("NCRSH_REFRESH_TOKEN_EXPIRY: at most 30d when NCRSH_ENV=production")
SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    "SIGNING_KEY": JWT_PRIVATE_KEY,
    "VERIFYING_KEY": JWT_PUBLIC_KEY,
    "ISSUER": ENV.get("NCRSH_JWT_ISSUER") or "ncrsh-swarm",
    "AUDIENCE": ENV.get("NCRSH_JWT_AUDIENCE") or "ncrsh-swarm-api",
    "ACCESS_TOKEN_LIFETIME": CONFIG.token_expiry,
    "REFRESH_TOKEN_LIFETIME": _refresh_lifetime,
    # Each token carries a digest of its user's password hash: a password change revokes them all.
    "CHECK_REVOKE_TOKEN": True,
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that a request without credentials gets 401 with WWW-Authenticate: Bearer.
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["ncrsh_site.throttling.SwarmRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["ncrsh_site.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "ncrsh_site.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "ncrsh_site.api.SwarmAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Requests per minute; see ncrsh_site/throttling.py.
RATE_LIMITS = {
    "anonymous": CONFIG.rate_limit_anonymous,
    "authenticated": CONFIG.rate_limit_authenticated,
    "training": CONFIG.rate_limit_training,
}
# A cache outage must not lock every client out; /health/ready reports it instead.
RATELIMIT_FAIL_OPEN = True

SPECTACULAR_SETTINGS = {
    "TITLE": "ncrsh-Swarm API",
    "DESCRIPTION": "Cooperative training of transformer language models across many machines. Events:"
    " a WebSocket at /api/v1/ws (token as ?token=, a Bearer header or the subprotocols ['bearer', token])"
    " sends messages of the Event schema.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Documentation is not a secret: anyone reads the schema and Swagger UI (the operations still
    # need their tokens).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The event feed's payloads, as components (Event: one of a schema per type).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ncrsh_site.event_schema.add_events",
    ],
    "ENUM_NAME_OVERRIDES": {
        "NodeStatusEnum": "nodes.models.NodeStatus",
        "SessionStatusEnum": "training.models.SessionStatus",
    },
}

# --- CORS -----------------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = CONFIG.cors_origins if CONFIG.cors_enabled else []
CORS_ALLOW_METHODS = CONFIG.cors_methods
CORS_ALLOW_HEADERS = CONFIG.cors_headers

# --- Static files (admin, browsable API, Swagger UI, the console), served by WhiteNoise ------------------
STATIC_URL = "/static/"
STATIC_ROOT = NCRSH_HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# The web console's modules, and the JavaScript SDK they import from /static/sdk/: the sdk folder
# of the source tree (NCRSH_CLIENTS_DIR where the package is installed elsewhere, as in docker/).
CLIENTS_DIR = Path(ENV.get("NCRSH_CLIENTS_DIR") or BASE_DIR / "sdk")
STATICFILES_DIRS = [BASE_DIR / "ncrsh_site" / "static", ("sdk", CLIENTS_DIR / "js" / "src")]
WHITENOISE_USE_FINDERS = not PRODUCTION

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security (production) ------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool(ENV, "NCRSH_SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health(/|$)", r"^metrics$"]
if env_bool(ENV, "NCRSH_TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_HSTS_SECONDS = int(timedelta(days=365).total_seconds()) if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "ncrsh_site.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": CONFIG.log_format}},
    "root": {"handlers": ["console"], "level": CONFIG.log_level},
}
