"""The ``ncrsh`` client commands: the SDK from a terminal. ``--json`` prints the API's bodies for
scripts; an error prints its code and message and exits with 1."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import Any

from ncrsh_swarm.client import DEFAULT_URL, SwarmClient, login
from ncrsh_swarm.errors import SwarmError
from ncrsh_swarm.running import Command, report, run
from ncrsh_swarm.terminal import Credentials, ProgressBar, as_json, human_bytes, table
from ncrsh_swarm.types import Progress, TrainingStatus


# --- login --------------------------------------------------------------------------------------
def login_command(args: argparse.Namespace) -> None:
    url = args.url or os.environ.get("NCRSH_URL") or DEFAULT_URL
    username = args.username or os.environ.get("NCRSH_USERNAME") or input("Username: ")
    password = os.environ.get("NCRSH_PASSWORD") or getpass.getpass("Password: ")
    try:
        tokens = asyncio.run(login(url, username, password))
    except SwarmError as exc:
        raise SystemExit(report(exc)) from None
    path = Credentials(url, username, tokens.access, tokens.refresh).save()
    hours = tokens.expires_in / 3600
    print(f"Logged in to {url} as {username}; token saved to {path} (valid {hours:g} h, then refreshed)")


# --- nodes --------------------------------------------------------------------------------------
async def nodes_list(client: SwarmClient, args: argparse.Namespace) -> int:
    listed = await client.nodes.list(status=args.status)
    if args.json:
        as_json(listed.raw)
        return 0
    rows = [
        [n.id, n.status, n.address, n.last_seen.isoformat(timespec="seconds") if n.last_seen else None,
         n.performance.training_speed, n.performance.network_latency, n.model_hash[:19] if n.model_hash else None]
        for n in listed
    ]  # fmt: skip
    table(["id", "status", "address", "last seen", "speed", "latency ms", "model"], rows)
    print(f"{listed.total} nodes, {listed.active} active")
    return 0


# --- training -----------------------------------------------------------------------------------
def _status_line(status: TrainingStatus) -> tuple[float | None, str]:
    fraction = status.step / status.total_steps if status.total_steps else None
    parts = [
        status.session_id,
        f"step {status.step}/{status.total_steps}",
        f"epoch {status.epoch}/{status.total_epochs}",
        f"loss {status.loss:.4f}" if status.loss is not None else "loss -",
        f"acc {status.accuracy:.3f}" if status.accuracy is not None else "acc -",
        f"round {status.round}",
    ]
    return fraction, "  ".join(parts)


async def _watch(client: SwarmClient, session_id: str, json_lines: bool) -> int:
    bar = ProgressBar()
    try:
        progress: Progress
        async for progress in client.training.stream_progress(session_id):
            if json_lines:
                as_json(progress.raw)
            else:
                bar.update(*_status_line(progress))
    finally:
        bar.close()
    session = await client.training.session(session_id)
    if json_lines:
        as_json(session.raw)
    else:
        final = session.metrics
        loss = f"{final['val_loss']:.4f}" if isinstance(final.get("val_loss"), float) else "-"
        print(
            f"{session.id} {session.status}: val loss {loss}, "
            f"{final.get('steps', 0)} steps, {final.get('rounds', 0)} rounds, model {session.final_model or '-'}"
        )
    return 0 if session.status in ("completed", "stopped") else 1


async def train_start(client: SwarmClient, args: argparse.Namespace) -> int:
    options: dict[str, Any] = {
        "max_steps": args.max_steps,
        "local_steps": args.local_steps,
        "log_every": args.log_every,
        "deadline_s": args.deadline,
        "require_operator_approval": args.require_operator_approval or None,
        "model_config": {"preset": args.preset} if args.preset else None,
        "tokenizer": args.tokenizer,
        "vocab_size": args.vocab_size,
    }
    started = await client.training.start(
        args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        nodes=args.nodes.split(",") if args.nodes else None,
        strategy=args.strategy,
        **{k: v for k, v in options.items() if v is not None},
    )
    if args.json and not args.watch:
        as_json(started.raw)
    elif not args.json:
        print(f"started {started.session_id} on {', '.join(n.id for n in started.nodes)}")
    return await _watch(client, started.session_id, args.json) if args.watch else 0


async def train_status(client: SwarmClient, args: argparse.Namespace) -> int:
    status = await client.training.status()
    if args.json:
        as_json(status.raw)
        return 0
    print(f"{status.session_id}: {status.status}  {_status_line(status)[1].split('  ', 1)[1]}")
    table(["node", "status", "step", "loss", "batch", "model"], [
        [n.id, n.status, n.step, n.loss, f"{n.batch_progress:.0%}", n.model_hash[:19] if n.model_hash else None]
        for n in status.nodes
    ])  # fmt: skip
    return 0


async def train_stop(client: SwarmClient, args: argparse.Namespace) -> int:
    status = await client.training.stop()
    if args.json:
        as_json(status.raw)
    else:
        print(f"{status.session_id}: {status.status}; every node stops after its current step")
    return await _watch(client, status.session_id, args.json) if args.watch else 0


# --- models -------------------------------------------------------------------------------------
async def datasets_list(client: SwarmClient, args: argparse.Namespace) -> int:
    datasets = await client.datasets.list()
    if args.json:
        as_json([d.raw for d in datasets])
        return 0
    rows = [
        [d.name, d.tokenizer, d.vocab_size, d.train_tokens, d.val_tokens, human_bytes(d.bytes), d.source]
        for d in datasets
    ]
    table(["name", "tokenizer", "vocab", "train tokens", "val tokens", "text", "source"], rows)
    return 0


async def models_list(client: SwarmClient, args: argparse.Namespace) -> int:
    models = await client.models.list()
    if args.json:
        as_json([m.raw for m in models])
        return 0
    rows = [
        [m.id, m.session, m.round, m.step, human_bytes(m.size), m.sha256[:16], m.metrics.get("val_loss"), m.loaded]
        for m in models
    ]
    table(["id", "session", "round", "step", "size", "sha256", "val loss", "loaded"], rows)
    return 0


async def models_download(client: SwarmClient, args: argparse.Namespace) -> int:
    bar = ProgressBar()

    def show(done: int, total: int | None) -> None:
        if not args.json and (bar.live or done == total):
            fraction = done / total if total else None
            bar.update(
                fraction, f"{args.model_id}  {human_bytes(done)}" + (f" / {human_bytes(total)}" if total else "")
            )

    try:
        path = await client.models.download(args.model_id, args.output or ".", on_progress=show)
    finally:
        bar.close()
    if args.json:
        as_json({"model_id": args.model_id, "path": str(path), "verified": True})
    else:
        print(f"saved {path} (sha256 verified)")
    return 0


async def models_sample(client: SwarmClient, args: argparse.Namespace) -> int:
    sample = await client.models.generate(
        args.model_id,
        args.prompt,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
    )
    if args.json:
        as_json(sample.raw)
    else:
        print(f"{sample.prompt}{sample.completion}")
        print(f"({sample.tokens} tokens in {sample.seconds:.2f}s)", file=sys.stderr)
    return 0


async def models_export(client: SwarmClient, args: argparse.Namespace) -> int:
    bar = ProgressBar()

    def show(done: int, _total: int | None) -> None:
        if not args.json:
            bar.update(None, f"{args.model_id} as {args.format}  {human_bytes(done)}")

    try:
        files = await client.models.export(args.model_id, args.output, format=args.format, on_progress=show)
    finally:
        bar.close()
    if args.json:
        as_json({"model_id": args.model_id, "format": args.format, "files": [str(f) for f in files]})
    else:
        print(f"exported {args.model_id} to {args.output}: {', '.join(f.name for f in files)}")
    return 0


# --- consensus and network ----------------------------------------------------------------------
async def consensus_status(client: SwarmClient, args: argparse.Namespace) -> int:
    status = await client.consensus.status()
    if args.json:
        as_json(status.raw)
        return 0
    rules = f"quorum {status.quorum:.2f}, {status.min_participants} needed"
    if status.require_operator_approval:
        rules += ", operator approval required"
    print(f"{status.session_id} ({status.session_status}): round {status.round}, {status.phase}; {rules}")
    proposals = status.proposals
    if proposals:
        table(["proposal", "node", "outcome", "norm", "loss", "approve", "reject"], [
            [p["proposal_id"], p["node_id"], p["outcome"], p["norm"], p["loss"], p["votes"]["approve"],
             p["votes"]["reject"]]
            for p in proposals
        ])  # fmt: skip
    return 0


async def consensus_vote(client: SwarmClient, args: argparse.Namespace) -> int:
    cast = await client.consensus.vote(proposal_id=args.proposal_id, approve=args.approve, reason=args.reason)
    if args.json:
        as_json(cast)
    else:
        vote = cast["vote"]
        verb = "approves" if vote["approve"] else "rejects"
        print(f"{vote['voter']} {verb} {vote['proposal_id']} in {cast['round_id']}")
    return 0


async def consensus_history(client: SwarmClient, args: argparse.Namespace) -> int:
    history = await client.consensus.history(session_id=args.session, limit=args.limit)
    if args.json:
        as_json([d.raw for d in history.decisions])
        return 0
    rows = [
        [d.round_id, "committed" if d.committed else "failed", ",".join(d.accepted) or "-",
         ",".join(d.rejected) or "-", d.model_hash[:19], d.reason or "-"]
        for d in history.decisions
    ]  # fmt: skip
    table(["round", "outcome", "accepted", "rejected", "model", "reason"], rows)
    print(f"{len(history.decisions)} of {history.total} decisions")
    return 0


async def network_topology(client: SwarmClient, args: argparse.Namespace) -> int:
    topology = await client.network.topology(session_id=args.session)
    if args.json:
        as_json(topology.raw)
        return 0
    print(f"session {topology.session_id or '-'}: {topology.pattern} over {topology.transport}")
    table(
        ["node", "status", "address", "member"],
        [[n["id"], n["status"], n["address"], n["member"]] for n in topology.nodes],
    )
    if topology.edges:
        print()
        table(["from", "to", "bytes", "fetches", "last ms", "mean ms"], [
            [e.source, e.target, human_bytes(e.bytes), e.fetches, e.latency_ms["last"], e.latency_ms["mean"]]
            for e in topology.edges
        ])  # fmt: skip
    return 0


def add_client_commands(commands: Any) -> None:
    """The client side of ``ncrsh``: each command takes --url, --token and --json."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"the server (default: NCRSH_URL, the saved login's, or {DEFAULT_URL})")
    common.add_argument("--token", help="an access token (default: NCRSH_TOKEN, or the saved login's)")
    common.add_argument("--json", action="store_true", help="print the API's JSON instead of tables")

    login_parser = commands.add_parser("login", help="log in and keep the token (in a file only you can read)")
    login_parser.add_argument("--url", help=f"the server (default: NCRSH_URL or {DEFAULT_URL})")
    login_parser.add_argument("--username", help="default: NCRSH_USERNAME, else asked")
    login_parser.set_defaults(handler=login_command)

    def group(name: str, help_: str) -> Any:
        return commands.add_parser(name, help=help_).add_subparsers(dest=f"{name}_command", required=True)

    def command(parent: Any, name: str, handler: Command, help_: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(name, help=help_, parents=[common])
        parser.set_defaults(handler=lambda args: run(handler, args))
        return parser

    nodes = group("nodes", "the node registry")
    command(nodes, "list", nodes_list, "list nodes").add_argument("--status", help="e.g. active,training")

    train = group("train", "training sessions")
    start = command(train, "start", train_start, "start a session (staff)")
    start.add_argument(
        "--dataset",
        required=True,
        help="a prepared dataset's name, or builtin:pystdlib, file:<glob>, <folder name>, huggingface:<name>",
    )
    start.add_argument("--tokenizer", help="for a raw spec: byte (default), bpe, hf:<name>, file:<tokenizer.json>")
    start.add_argument("--vocab-size", type=int, help="a bpe tokenizer's vocabulary")
    start.add_argument("--epochs", type=int)
    start.add_argument("--batch-size", type=int)
    start.add_argument("--learning-rate", type=float)
    start.add_argument("--nodes", help="comma-separated node ids (default: every active node)")
    start.add_argument("--strategy", choices=["sync_sgd", "cooperative_sgd", "diloco"])
    start.add_argument("--preset", choices=["tiny", "default"], help="model size")
    start.add_argument("--max-steps", type=int)
    start.add_argument("--local-steps", type=int, help="inner steps between rounds (H)")
    start.add_argument("--log-every", type=int, help="steps between progress reports")
    start.add_argument("--deadline", type=float, help="seconds a round waits for proposals, and again for votes")
    start.add_argument(
        "--require-operator-approval", action="store_true", help="each proposal needs an operator's vote"
    )
    start.add_argument("--watch", action="store_true", help="follow it with a live progress bar until it ends")
    command(train, "status", train_status, "the running (or last) session")
    command(train, "stop", train_stop, "stop the running session (staff)").add_argument(
        "--watch", action="store_true", help="wait until every node has stopped"
    )

    datasets = group("datasets", "prepared datasets (ncrsh data prepare makes them on a server host)")
    command(datasets, "list", datasets_list, "list the prepared datasets")

    models = group("models", "saved checkpoints")
    command(models, "list", models_list, "list checkpoints")
    download = command(models, "download", models_download, "download and verify a checkpoint")
    download.add_argument("model_id")
    download.add_argument("-o", "--output", help="file or folder (default: ./<model_id>.safetensors)")
    sample = command(models, "sample", models_sample, "text a model writes after a prompt")
    sample.add_argument("model_id")
    sample.add_argument("--prompt", default="", help="what it continues (default: nothing)")
    sample.add_argument("--max-new-tokens", type=int, default=50, help="1-1024 (default 50)")
    sample.add_argument("--temperature", type=float, default=1.0, help="0: the likeliest token each time")
    sample.add_argument("--top-k", type=int, help="sample among the k likeliest tokens")
    sample.add_argument("--seed", type=int, help="for a reproducible sample")
    export = command(models, "export", models_export, "a checkpoint as a Hugging Face model folder")
    export.add_argument("model_id")
    export.add_argument("--format", choices=["hf"], default="hf", help="hf: transformers loads it (default)")
    export.add_argument("-o", "--output", required=True, help="the folder to write (created if missing)")

    consensus = group("consensus", "the consensus ledger")
    history = command(consensus, "history", consensus_history, "decisions, newest first")
    history.add_argument("--session", help="one session's decisions")
    history.add_argument("--limit", type=int, default=20)
    command(consensus, "status", consensus_status, "the current round, its proposals and votes so far")
    vote = command(consensus, "vote", consensus_vote, "vote on a proposal of the open round (staff or a node)")
    vote.add_argument("proposal_id", help="as `consensus status` lists it")
    choice = vote.add_mutually_exclusive_group(required=True)
    choice.add_argument("--approve", dest="approve", action="store_true")
    choice.add_argument("--reject", dest="approve", action="store_false")
    vote.add_argument("--reason", default="")

    network = group("network", "the swarm's network")
    command(network, "topology", network_topology, "nodes and exchange edges").add_argument("--session")
