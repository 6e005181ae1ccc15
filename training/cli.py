"""The server side of the ``ncrsh`` command: ``serve``, ``worker`` and ``data prepare``.

``ncrsh_swarm`` (the client) imports neither Django nor torch; it finds these commands through
the ``ncrsh.commands`` entry point, so they are there when the server is installed
(``pip install 'ncrsh-swarm[server]'``). Django is set up only when one of them runs.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import time
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
    from ncrsh_site.config import ConfigError
    from training.worker import start_local_nodes

    bootstrap.migrate(sys.stdout)
    try:
        bootstrap.ensure_admin(sys.stdout)
    except ConfigError as exc:
        raise SystemExit(f"ncrsh: configuration error: {exc}") from None
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

    from training.worker import WorkerDevices, run_worker

    try:
        devices = WorkerDevices.parse(device=args.device, gpus=args.gpus, nproc=args.nproc, fsdp=args.fsdp)
    except ValueError as exc:
        raise SystemExit(f"ncrsh worker: {exc}") from None
    if settings.EMBEDDED:
        raise SystemExit("ncrsh: a worker needs REDIS_URL (the fleet's broker) and DATABASE_URL (its registry)")
    run_worker(node=args.node, devices=devices, loglevel=args.loglevel)


def data_prepare(args: argparse.Namespace) -> None:
    """Tokenise a dataset spec into token shards in this host's NCRSH_DATASETS_DIR and register it,
    with a progress line (tokens, bytes, tokens/s) on stderr."""
    _setup_django()
    from django.conf import settings

    from engine.errors import EngineError
    from engine.shards import Progress
    from models_store.dataset_services import dataset_claim, dataset_prepare
    from ncrsh_site import bootstrap
    from ncrsh_site.errors import DomainError

    bootstrap.migrate(io.StringIO())
    name = args.name or default_name(args.source, args.tokenizer, args.vocab_size)
    shown = 0.0

    def bar(done: Progress) -> None:
        nonlocal shown
        if time.monotonic() - shown >= 0.2:
            shown = time.monotonic()
            sys.stderr.write(
                f"\r{name}: {done.tokens / 1e6:,.1f}M tokens from {done.bytes / 1e6:,.1f} MB,"
                f" {done.tokens_per_s / 1e6:,.2f}M tokens/s   "
            )
            sys.stderr.flush()

    try:
        row, mine = dataset_claim(name=name, source=args.source, tokenizer=args.tokenizer, vocab_size=args.vocab_size)
        if not mine:
            print(f"{name}: already {row.status} ({row.source}, {row.tokenizer})")
            return
        if args.tokenizer == "bpe":
            print(f"{name}: training a byte-level BPE tokenizer on {args.source}…", file=sys.stderr, flush=True)
        started = time.monotonic()
        row = dataset_prepare(name=name, progress=bar)
    except (DomainError, EngineError) as exc:
        detail = getattr(exc, "detail", None)
        reason = "; ".join(f"{k}: {' '.join(v)}" for k, v in detail.items()) if isinstance(detail, dict) else exc
        raise SystemExit(f"{chr(10) if shown else ''}ncrsh data prepare: {reason}") from None
    sys.stderr.write("\n")
    print(
        f"{name}: {row.tokens:,} tokens ({row.manifest['val']['tokens']:,} held out) from {row.bytes:,} bytes,"
        f" vocab {row.vocab_size}, in {time.monotonic() - started:.1f}s -> {settings.DATASETS_DIR / name}"
    )


def default_name(source: str, tokenizer: str, vocab_size: int | None) -> str:
    """``file:wikitext-2/valid.txt`` with bpe to 4096: ``wikitext-2-valid-bpe4096``."""
    stem = re.sub(r"\.(txt|jsonl?|md)$", "", source.partition(":")[2] or source)
    kind = f"bpe{vocab_size or ''}" if tokenizer == "bpe" else tokenizer
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{stem}-{kind}").strip("-.")[:100]


def add_server_commands(commands: Any) -> None:
    """Add serve, worker and data to the ``ncrsh`` command's subparsers."""
    serve_parser = commands.add_parser("serve", help="run the API server (migrates and creates the admin first)")
    serve_parser.add_argument("--host", help="address to bind (default: api.host, 0.0.0.0)")
    serve_parser.add_argument("--port", type=int, help="port (default: NCRSH_PORT or api.port, 8080)")
    serve_parser.set_defaults(handler=serve)
    worker_parser = commands.add_parser(
        "worker", help="run a swarm node (a Celery worker for one device, or for several as one node)"
    )
    worker_parser.add_argument(
        "--node", help="claim this node id, created with POST /api/v1/nodes (default: host+device)"
    )
    worker_parser.add_argument("--device", default="cpu", help="cpu or cuda:N (default: cpu)")
    worker_parser.add_argument(
        "--gpus", help="one node on these GPUs, e.g. 0,1,2,3: one process each, data parallel over NCCL"
    )
    worker_parser.add_argument("--nproc", type=int, help="one node of N CPU processes, data parallel over gloo")
    worker_parser.add_argument(
        "--fsdp",
        action="store_true",
        help="shard every model over the node's processes (FSDP); by default only one too large for one GPU",
    )
    worker_parser.add_argument("--loglevel", default="INFO")
    worker_parser.set_defaults(handler=worker)
    data_parser = commands.add_parser("data", help="prepared datasets (token shards)")
    data_commands = data_parser.add_subparsers(dest="data_command", required=True)
    prepare_parser = data_commands.add_parser(
        "prepare", help="tokenise a dataset into memory-mapped shards in NCRSH_DATASETS_DIR and register it"
    )
    prepare_parser.add_argument("source", help="builtin:pystdlib, file:<glob>, <folder name>, huggingface:<name>")
    prepare_parser.add_argument(
        "--tokenizer", default="byte", help="byte (default), bpe (trained here), hf:<name>, file:<tokenizer.json>"
    )
    prepare_parser.add_argument("--vocab-size", type=int, help="bpe's vocabulary (default 4096)")
    prepare_parser.add_argument("--name", help="the name sessions use (default: from the source and tokenizer)")
    prepare_parser.set_defaults(handler=data_prepare)
