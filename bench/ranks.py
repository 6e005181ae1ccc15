"""A node of several processes against one: tokens/s of the same node batch trained by 1
process and by N ranks (DDP, and FSDP), started by torch's elastic launcher as a worker starts
them, on CPUs (gloo) or one GPU per rank (NCCL).

Prints each layout's tokens/s (the lead's report over the steps after the first window, startup
excluded) and its ratio to the one process run in the same invocation.

    python -m bench.ranks [--nproc 2] [--preset tiny|default] [--device cpu|cuda] [--steps 60]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.distributed.launcher.api import elastic_launch

from bench._common import model_config, print_table, write_results
from engine.config import Policy, TrainConfig, make_strategy
from engine.data import Corpus
from engine.exchange import InMemoryExchange, MemoryStore
from engine.node import NodeSpec, NullReporter, train_node
from engine.ranks import Ranks, launch_config


class Speeds(NullReporter):
    def __init__(self) -> None:
        self.tokens_per_s: list[float] = []

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.tokens_per_s.append(metrics["tokens_per_s"])


def _corpus() -> Corpus:
    # Random bytes: the speed of a step does not depend on what the text says.
    return Corpus.from_bytes(np.random.default_rng(0).integers(0, 256, 4_000_000, dtype=np.uint8).tobytes())


def _rank(spec: NodeSpec, device_type: str, sharded: bool) -> float:
    """One rank's run: the node's tokens/s (the lead's) after its first report window."""
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if device_type == "cuda" else torch.device("cpu")
    ranks = Ranks.joined(device, sharded=sharded)
    speeds = Speeds()
    train_node(
        spec,
        corpus=_corpus(),
        exchange=InMemoryExchange(MemoryStore()) if ranks.lead else None,
        reporter=speeds,
        device=device,
        ranks=ranks,
    )
    return statistics.median(speeds.tokens_per_s[1:]) if len(speeds.tokens_per_s) > 1 else float("nan")


def launched(nproc: int, spec: NodeSpec, device_type: str, sharded: bool) -> float:
    config = launch_config(nproc, run_id=secrets.token_hex(4))
    return float(elastic_launch(config, _rank)(spec, device_type, sharded)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--shape", help="hidden,layers,heads,seq_len (overrides --preset)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=16, help="the node's batch")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    if args.device == "cuda" and torch.cuda.device_count() < args.nproc:
        parser.error(f"--nproc {args.nproc} on cuda needs as many GPUs; this host has {torch.cuda.device_count()}")
    spec = NodeSpec(
        "solo",
        ("solo",),
        model_config(args.preset, args.shape),
        TrainConfig(batch_size=args.batch_size, max_steps=args.steps, log_every=max(1, args.steps // 6)),
        make_strategy("diloco", local_steps=max(2, args.steps // 3)),
        Policy(check_loss=False),
        f"bench-ranks-{secrets.token_hex(3)}",
    )
    one = launched(1, spec, args.device, sharded=False)
    rows: list[list[Any]] = [["1 process", f"{one:,.0f}", "1.00"]]
    results: dict[str, Any] = {"one": one, "nproc": args.nproc, "device": args.device, "preset": args.preset}
    for name, sharded in (("DDP", False), ("FSDP", True)):
        speed = launched(args.nproc, spec, args.device, sharded)
        rows.append([f"{args.nproc} ranks, {name}", f"{speed:,.0f}", f"{speed / one:.2f}"])
        results[name.lower()] = speed
    print_table(["node", "tokens/s", "vs 1 process"], rows)
    write_results("ranks", results)


if __name__ == "__main__":
    main()
