"""One Redis round of an update among --nodes nodes, against raw redis-py SET/GET of the same
bytes in the same run. Target: exchange / raw throughput >= 0.9.

Raw: each client SETs its payload and GETs the others', in values of at most CHUNK_BYTES (Redis
refuses a value over 512 MB: a bigger update cannot move as one value, raw or not). Exchange:
each node runs a full round (propose, validate, vote, decide, aggregate) through RedisExchange.
Every node is one process (as on a real fleet) that lives through the whole run, as a node
lives through a session: each repeat, the nodes are released together into a raw round, then
into an exchange round. The first repeat warms both up (a node's first round allocates its
buffers); the medians are of the repeats after it.

    python -m bench.exchange [--redis redis://127.0.0.1:6379/0] [--repeats 7]    # 19.2M, 4 nodes
    python -m bench.exchange --params 300e6 --nodes 2 --repeats 4                # 1.2 GB in fp32
"""

from __future__ import annotations

import argparse
import multiprocessing
import secrets
import statistics
import time

import redis
import torch

from bench._common import print_table, write_results
from engine.config import Policy, default
from engine.exchange import CHUNK_BYTES, RedisExchange
from engine.model import build_model
from engine.rounds import Round, RoundContext
from engine.voting import judge
from engine.wire import pack, to_bytes

PATHS = ("raw", "exchange")


def raw_round(client: redis.Redis, prefix: str, payloads: list[memoryview], i: int) -> None:
    """SET this node's payload in chunks, then GET every chunk of the others' (as a node would:
    waiting for the peers)."""
    parts = -(-len(payloads[0]) // CHUNK_BYTES)
    for c in range(parts):
        client.set(f"{prefix}:{i}:{c}", payloads[i][c * CHUNK_BYTES : (c + 1) * CHUNK_BYTES], ex=600)
    for j in range(len(payloads)):
        for c in range(parts if j != i else 0):
            while client.get(f"{prefix}:{j}:{c}") is None:
                time.sleep(0.005)


def exchange_round(ctx: RoundContext, index: int, update: torch.Tensor, into: torch.Tensor) -> None:
    """A full round through the exchange, merging into a buffer of the node's (as OuterSync does)."""
    outcome = Round(
        ctx,
        index,
        update,
        base_hash="xxh3:bench",
        meta={},
        judge=lambda u: judge(u, voter=ctx.node_id, kappa=3.0, epsilon=0.05),
        into=into,
    ).run()
    assert outcome.committed


def run_nodes(url: str, updates: list[torch.Tensor], payloads: list[memoryview], wire: str, repeats: int) -> dict:
    """Seconds per repeat and path: from the nodes' common start to the last one's end."""
    nodes, run = len(updates), secrets.token_hex(4)
    context = multiprocessing.get_context("fork")
    start, times = context.Barrier(nodes), context.Queue()
    names = tuple(f"node_{i}" for i in range(nodes))
    policy = Policy(check_loss=False, deadline_s=600)

    def node(i: int) -> None:
        torch.set_num_threads(1)
        client = redis.Redis.from_url(url)
        handle = RedisExchange(url, prefix=f"bench-exchange:{run}", ttl_s=600)
        ctx = RoundContext(handle, "bench", names[i], names, policy, wire)
        into = torch.zeros_like(updates[i])
        for repeat in range(repeats):
            for path in PATHS:
                start.wait()
                began = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
                if path == "raw":
                    raw_round(client, f"bench-raw:{run}:{repeat}", payloads, i)
                else:
                    exchange_round(ctx, repeat, updates[i], into)
                times.put((repeat, path, began, time.perf_counter()))
                if path == "raw":  # once all have read, each deletes its keys, as the exchange does
                    start.wait()
                    client.unlink(*client.keys(f"bench-raw:{run}:{repeat}:{i}:*"))

    processes = [context.Process(target=node, args=(i,)) for i in range(nodes)]
    for process in processes:
        process.start()
    spans: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for _ in range(repeats * len(PATHS) * nodes):
        repeat, path, began, ended = times.get(timeout=1200)
        spans.setdefault((repeat, path), []).append((began, ended))
        if len(spans[repeat, path]) == nodes:
            seconds = max(e for _, e in spans[repeat, path]) - min(b for b, _ in spans[repeat, path])
            print(f"repeat {repeat + 1} ({'warm-up' if repeat == 0 else 'timed'}): {path} {seconds:.2f}s", flush=True)
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a node process failed with exit code {process.exitcode}")
    return {
        path: [max(e for _, e in spans[r, path]) - min(b for b, _ in spans[r, path]) for r in range(1, repeats)]
        for path in PATHS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--wire", choices=["float32", "float16", "bfloat16", "int8"], default="float32")
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--params", type=float, help="update size in parameters (default: the default preset's)")
    args = parser.parse_args()

    params = int(args.params) if args.params else build_model(default(), seed=0).num_parameters()
    generator = torch.Generator().manual_seed(0)
    updates = [torch.randn(params, generator=generator) * 1e-3 for _ in range(args.nodes)]
    packed = [pack(u, args.wire) for u in updates]
    # The same payload bytes, raw: views of the packed tensors (int8: scales, then codes)
    payloads = [memoryview(b"".join(to_bytes(p))) if p.scales is not None else to_bytes(p)[0] for p in packed]
    if args.repeats < 2:
        parser.error("--repeats must be at least 2 (the first is a warm-up)")
    seconds = run_nodes(args.redis, updates, payloads, args.wire, args.repeats)
    raw_s, exchange_s = seconds["raw"], seconds["exchange"]
    moved = sum(len(p) for p in payloads) * args.nodes  # each payload written once and read by the others
    raw, exchange = statistics.median(raw_s), statistics.median(exchange_s)
    ratio = raw / exchange
    size = f"{len(payloads[0]) / 1e6:.0f} MB per update ({args.wire})"
    print(f"\n{params / 1e6:.1f}M parameters, {size}, {args.nodes} nodes")
    print_table(
        ["path", "median s", "MB/s"],
        [["raw SET/GET", raw, moved / raw / 1e6], ["exchange round", exchange, moved / exchange / 1e6]],
    )
    print(f"\nexchange / raw throughput: {ratio:.2f} (target >= 0.9)")
    write_results(
        f"exchange-{args.wire}-{params}x{args.nodes}",
        {
            "args": vars(args),
            "parameters": params,
            "raw_seconds": raw_s,
            "exchange_seconds": exchange_s,
            "ratio": ratio,
        },
    )


if __name__ == "__main__":
    main()
