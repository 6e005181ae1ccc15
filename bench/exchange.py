"""One Redis round of an update among --nodes nodes, against raw redis-py SET/GET of the same
bytes in the same run. Target: exchange / raw throughput >= 0.9.

Raw: each client SETs its payload and GETs the others', in values of at most CHUNK_BYTES (Redis
refuses a value over 512 MB: a bigger update cannot move as one value, raw or not). Exchange:
each node runs a full round (propose, validate, vote, decide, aggregate) through RedisExchange.
Every client and node is its own process (as on a real fleet), started before the clock and
released together.

    python -m bench.exchange [--redis redis://127.0.0.1:6379/0] [--repeats 7]    # 19.2M, 4 nodes
    python -m bench.exchange --params 300e6 --nodes 2 --repeats 3                # 1.2 GB in fp32
"""

from __future__ import annotations

import argparse
import multiprocessing
import secrets
import statistics
import time
from collections.abc import Callable

import redis
import torch

from bench._common import print_table, write_results
from engine.config import Policy, default
from engine.exchange import CHUNK_BYTES, RedisExchange
from engine.model import build_model
from engine.rounds import Round, RoundContext
from engine.voting import judge
from engine.wire import pack, to_bytes


def in_processes(nodes: int, work: Callable[[int], None]) -> float:
    """Wall time from the common start of the node processes to the last one's end."""
    context = multiprocessing.get_context("fork")
    start, times = context.Barrier(nodes), context.Queue()

    def node(i: int) -> None:
        torch.set_num_threads(1)
        start.wait()
        began = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
        work(i)
        times.put((began, time.perf_counter()))

    processes = [context.Process(target=node, args=(i,)) for i in range(nodes)]
    for process in processes:
        process.start()
    spans = [times.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a node process failed with exit code {process.exitcode}")
    return max(end for _, end in spans) - min(began for began, _ in spans)


def raw_round(url: str, payloads: list[memoryview]) -> float:
    prefix, nodes = f"bench-raw:{secrets.token_hex(4)}", len(payloads)
    parts = -(-len(payloads[0]) // CHUNK_BYTES)

    def work(i: int) -> None:
        client = redis.Redis.from_url(url)
        for c in range(parts):
            client.set(f"{prefix}:{i}:{c}", payloads[i][c * CHUNK_BYTES : (c + 1) * CHUNK_BYTES], ex=600)
        for j in range(nodes):
            for c in range(parts if j != i else 0):
                while client.get(f"{prefix}:{j}:{c}") is None:  # as a node would: wait for the peers
                    time.sleep(0.005)
        client.close()

    seconds = in_processes(nodes, work)
    redis.Redis.from_url(url).delete(*[f"{prefix}:{i}:{c}" for i in range(nodes) for c in range(parts)])
    return seconds


def exchange_round(url: str, updates: list[torch.Tensor], wire: str) -> float:
    prefix = f"bench-exchange:{secrets.token_hex(4)}"
    policy = Policy(check_loss=False, deadline_s=600)
    nodes = tuple(f"node_{i}" for i in range(len(updates)))

    def work(i: int) -> None:
        ctx = RoundContext(RedisExchange(url, prefix=prefix, ttl_s=600), "bench", nodes[i], nodes, policy, wire)
        outcome = Round(
            ctx,
            0,
            updates[i],
            base_hash="sha256:bench",
            meta={},
            judge=lambda u: judge(u, voter=nodes[i], kappa=3.0, epsilon=0.05),
        ).run()
        assert outcome.committed

    seconds = in_processes(len(updates), work)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    return seconds


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
    raw_s, exchange_s = [], []
    for repeat in range(args.repeats):  # interleaved, so both see the same machine
        raw_s.append(raw_round(args.redis, payloads))
        exchange_s.append(exchange_round(args.redis, updates, args.wire))
        print(f"repeat {repeat + 1}: raw {raw_s[-1]:.2f}s, exchange round {exchange_s[-1]:.2f}s", flush=True)
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
