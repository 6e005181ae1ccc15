"""The server side of the ``ncrsh`` command: ``serve`` and ``worker``.

``ncrsh_swarm`` (the client) imports neither Django nor torch; it finds these commands through
the ``ncrsh.commands`` entry point, so they are there when the server is installed
(``pip install 'ncrsh-swarm[server]'``). Django is set up only when one of them runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def _setup_django() -> None:
    # Everything the server and its workers create (the SQLite database with its tokens and
    # password hashes, keys, secret key, checkpoints, snapshots) is readable by its owner only.
    os.umask(0o077)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ncrsh_site.settings")
    try:
        import django
    except ImportError:
        raise SystemExit("ncrsh: the server is not installed here: pip install 'ncrsh-swarm[server]'") from None

    from ncrsh_site.config import ConfigError

    try:
        django.setup()
    except ConfigError as exc:
        raise SystemExit(f"ncrsh: configuration error: {exc}") from None


def serve(args: argparse.Namespace) -> None:
    """Migrate, create the admin user if missing, and serve the API with daphne."""
    _setup_django()
    from daphne.cli import CommandLineInterface
    from django.conf import settings

    from ncrsh_site import bootstrap
    from training.worker import start_local_nodes

    bootstrap.migrate(sys.stdout)
    bootstrap.ensure_admin(sys.stdout)
    start_local_nodes(settings.LOCAL_NODES)
    host = args.host or settings.CONFIG.host
    port = args.port or settings.CONFIG.port
    database = "PostgreSQL" if settings.DATABASE_URL else f"SQLite at {settings.DATABASES['default']['NAME']}"
    layers = "Redis" if settings.REDIS_URL else "in-memory cache and channel layer"
    nodes = f"{settings.LOCAL_NODES} local nodes" if settings.EMBEDDED else "nodes: `ncrsh worker` processes"
    print(f"ncrsh-Swarm ({settings.NCRSH_ENV}) on http://{host}:{port}  [{database}; {layers}; {nodes}]", flush=True)
    CommandLineInterface().run(["-b", host, "-p", str(port), "ncrsh_site.asgi:application"])


def worker(args: argparse.Namespace) -> None:
    """A swarm node: a Celery worker consuming the queue named after its node id."""
    _setup_django()
    from django.conf import settings

    from training.worker import run_worker

    if settings.EMBEDDED:
        raise SystemExit("ncrsh: a worker needs REDIS_URL (the fleet's broker) and DATABASE_URL (its registry)")
    run_worker(node=args.node, device=args.device, loglevel=args.loglevel)


def add_server_commands(commands: Any) -> None:
    """Add serve and worker to the ``ncrsh`` command's subparsers."""
    serve_parser = commands.add_parser("serve", help="run the API server (migrates and creates the admin first)")
    serve_parser.add_argument("--host", help="address to bind (default: api.host, 0.0.0.0)")
    serve_parser.add_argument("--port", type=int, help="port (default: NCRSH_PORT or api.port, 8080)")
    serve_parser.set_defaults(handler=serve)
    worker_parser = commands.add_parser("worker", help="run a swarm node (a Celery worker for one device)")
    worker_parser.add_argument(
        "--node", help="claim this node id, created with POST /api/v1/nodes (default: host+device)"
    )
    worker_parser.add_argument("--device", default="cpu", help="cpu or cuda:N (default: cpu)")
    worker_parser.add_argument("--loglevel", default="INFO")
    worker_parser.set_defaults(handler=worker)
