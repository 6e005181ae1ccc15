"""What a DiLoCo round costs, and where it goes: 2 nodes as threads of one process, in-memory
exchange, on one device.

Part 1, the breakdown: each piece of a round's work, timed alone on the model's device (median
of 5), as the engine does it (flat weights, buffers allocated once, see engine/vectors.py):
forming the pseudo-gradient, packing it for the wire, the weights' fingerprint (the round's
base hash) against a sha256 of the same bytes, the mean of two updates, the outer Nesterov step
with the global weights loaded back into the model, and (with --check-loss) one held-out probe.

Part 2, in place: a real 2-node run of --rounds rounds at H=--local-steps; the round cost is the
node time spent outside the inner steps per round, printed as seconds and as a ratio to one inner
step (and the round overhead: the share of node time in rounds). Of that time, the part spent
waiting for the other node (it was still in its inner steps: the two share the device) is
printed apart; the rest is the round's own cost.

    python -m bench.round_cost [--preset default | --shape 768,12,12,1024] [--device cuda]
                               [--local-steps 50] [--batch-size 16] [--rounds 4] [--check-loss]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
from collections.abc import Callable

import torch

from bench._common import model_config, print_table, write_results
from engine.aggregation import aggregate
from engine.config import AggregatorConfig, Policy, TrainConfig, make_strategy
from engine.data import Corpus
from engine.datasets import load_bytes
from engine.local import run_local_swarm
from engine.model import build_model
from engine.node import NodeSpec, Probe, fingerprint
from engine.strategies import OuterOptimizer
from engine.vectors import flatten_parameters
from engine.wire import Staging, pack, to_bytes


def timed(work: Callable[[], object], device: torch.device, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        work()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--shape", help="hidden,layers,heads,seq_len (overrides --preset)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--local-steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wire", default="float32")
    parser.add_argument("--check-loss", action="store_true", help="the default policy's held-out probe")
    parser.add_argument(
        "--threads",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="torch's CPU threads per node (default: half the cores each, so the 2 nodes do not oversubscribe them)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = model_config(args.preset, args.shape)
    model = build_model(config, seed=0).to(device)
    params = model.num_parameters()
    print(
        f"{params / 1e6:.1f}M parameters, device {device}, H={args.local_steps}, batch {args.batch_size}, "
        f"{args.threads} CPU thread(s) per node"
    )

    # --- part 1: the pieces --------------------------------------------------------------------
    weights = flatten_parameters(model)
    outer = OuterOptimizer(weights, make_strategy("diloco"))
    delta = outer.params - weights + 1e-3
    other, merged, scratch = delta.clone(), torch.empty_like(delta), torch.empty_like(delta)
    staging = Staging()  # a node's, kept across rounds
    host = to_bytes(pack(delta, "float32"))[0]
    pieces: list[tuple[str, Callable[[], object]]] = [
        ("pseudo-gradient (global - weights)", lambda: torch.sub(outer.params, weights, out=scratch)),
        (f"pack for the wire ({args.wire})", lambda: pack(delta, args.wire)),
        ("fingerprint (xxh3 via pinned copy)", lambda: fingerprint(outer.params, staging)),
        ("sha256 of the same bytes (was)", lambda: hashlib.sha256(host).hexdigest()),
        ("mean of two updates", lambda: aggregate([delta, other], AggregatorConfig(), out=merged)),
        ("outer Nesterov step + load weights", lambda: outer.step(scratch, weights)),
    ]
    if args.check_loss:
        tokens = torch.randint(0, config.vocab_size, (args.batch_size, config.seq_len + 1))
        probe = Probe(model, (tokens[:, :-1], tokens[:, 1:]), device, bf16=True)
        pieces.append(("held-out probe (one evaluation)", lambda: probe.loss(outer.params)))
    breakdown = {name: timed(work, device) for name, work in pieces}
    print_table(["piece of a round", "ms"], [[name, s * 1e3] for name, s in breakdown.items()])

    # --- part 2: in place ----------------------------------------------------------------------
    text = load_bytes("builtin:pystdlib", max_bytes=16 * 1024 * 1024)
    corpus = Corpus.from_bytes(text)
    train = TrainConfig(
        batch_size=args.batch_size,
        learning_rate=3e-4,
        max_steps=args.local_steps * args.rounds,
        warmup_steps=10,
        log_every=10**9,
        eval_batches=1,
    )
    policy = Policy(check_loss=args.check_loss)
    members = ("node_a", "node_b")
    specs = [
        NodeSpec(
            m,
            members,
            config,
            train,
            make_strategy("diloco", local_steps=args.local_steps),
            policy,
            "round-cost",
            wire_dtype=args.wire,
        )
        for m in members
    ]
    started = time.perf_counter()
    results = run_local_swarm(specs, corpus=corpus, device=device)
    wall = time.perf_counter() - started
    rounds = len(results[0].rounds)
    assert all(r.committed for r in results[0].rounds), "every round must commit"
    in_rounds = statistics.mean(r.exchange_seconds / rounds for r in results)
    waiting = statistics.mean(r.peer_wait_seconds / rounds for r in results)
    round_s = in_rounds - waiting
    step_s = statistics.mean(r.compute_seconds / r.steps for r in results)
    overhead = statistics.mean(
        (r.exchange_seconds - r.peer_wait_seconds) / (r.exchange_seconds + r.compute_seconds) for r in results
    )
    print(f"\n{rounds} rounds of H={args.local_steps} on 2 nodes in {wall:.1f} s (one device, threads)")
    print(f"time in a round {in_rounds:.4f} s per node, of which {waiting:.4f} s waiting for the other node")
    print(f"round cost {round_s:.4f} s per node = {round_s / step_s:.2f} inner steps ({step_s * 1e3:.1f} ms each)")
    print(f"round overhead (share of node time in the rounds' own work): {overhead:.1%}")
    write_results(
        f"round_cost-{args.shape or args.preset}-{device.type}",
        {
            "args": vars(args),
            "parameters": params,
            "breakdown_ms": {k: v * 1e3 for k, v in breakdown.items()},
            "round_seconds": round_s,
            "peer_wait_seconds": waiting,
            "step_seconds": step_s,
            "round_in_steps": round_s / step_s,
            "round_overhead": overhead,
        },
    )


if __name__ == "__main__":
    main()
