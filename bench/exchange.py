"""One Redis round of a default-size update (about 19M parameters) among 4 nodes, against raw
redis-py SET/GET of the same bytes in the same run. Target: exchange / raw throughput >= 0.8.

Raw: each of 4 clients SETs its blob and GETs the other three. Exchange: each of 4 nodes runs a
full round (propose, validate, vote, decide, aggregate) through RedisExchange. Every client and
node is its own process (as on a real fleet), started before the clock and released together.

    python -m bench.exchange [--redis redis://127.0.0.1:6379/0] [--repeats 7]
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
from engine.exchange import RedisExchange
from engine.model import build_model
from engine.rounds import Round, RoundContext
from engine.voting import judge
from engine.wire import pack, to_bytes

NODES = tuple(f"node_{i}" for i in range(4))


def in_processes(work: Callable[[int], None]) -> float:
    """Wall time from the common start of the node processes to the last one's end."""
    context = multiprocessing.get_context("fork")
    start, times = context.Barrier(len(NODES)), context.Queue()

    def node(i: int) -> None:
        torch.set_num_threads(1)
        start.wait()
        began = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
        work(i)
        times.put((began, time.perf_counter()))

    processes = [context.Process(target=node, args=(i,)) for i in range(len(NODES))]
    for process in processes:
        process.start()
    spans = [times.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a node process failed with exit code {process.exitcode}")
    return max(end for _, end in spans) - min(began for began, _ in spans)


def raw_round(url: str, blobs: list[bytes]) -> float:
    prefix = f"bench-raw:{secrets.token_hex(4)}"

    def work(i: int) -> None:
        client = redis.Redis.from_url(url)
        client.set(f"{prefix}:{i}", blobs[i], ex=600)
        for j in range(len(NODES)):
            if j != i:
                while client.get(f"{prefix}:{j}") is None:  # as a node would: wait for the peers
                    time.sleep(0.005)
        client.close()

    seconds = in_processes(work)
    redis.Redis.from_url(url).delete(*[f"{prefix}:{i}" for i in range(len(NODES))])
    return seconds


def exchange_round(url: str, updates: list[torch.Tensor], wire: str) -> float:
    prefix = f"bench-exchange:{secrets.token_hex(4)}"
    policy = Policy(check_loss=False, deadline_s=120)

    def work(i: int) -> None:
        ctx = RoundContext(RedisExchange(url, prefix=prefix, ttl_s=600), "bench", NODES[i], NODES, policy, wire)
        outcome = Round(
            ctx,
            0,
            updates[i],
            base_hash="sha256:bench",
            meta={},
            judge=lambda u: judge(u, voter=NODES[i], kappa=3.0, epsilon=0.05),
        ).run()
        assert outcome.committed

    seconds = in_processes(work)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--wire", choices=["float32", "float16", "bfloat16"], default="float32")
    args = parser.parse_args()

    params = build_model(default(), seed=0).num_parameters()
    generator = torch.Generator().manual_seed(0)
    updates = [torch.randn(params, generator=generator) * 1e-3 for _ in NODES]
    blobs = [b"".join(to_bytes(pack(u, args.wire))) for u in updates]  # the same payload bytes, raw
    raw_s, exchange_s = [], []
    for repeat in range(args.repeats):  # interleaved, so both see the same machine
        raw_s.append(raw_round(args.redis, blobs))
        exchange_s.append(exchange_round(args.redis, updates, args.wire))
        print(f"repeat {repeat + 1}: raw {raw_s[-1]:.2f}s, exchange round {exchange_s[-1]:.2f}s", flush=True)
    moved = sum(len(b) for b in blobs) * len(NODES)  # each blob written once and read by three
    raw, exchange = statistics.median(raw_s), statistics.median(exchange_s)
    ratio = raw / exchange
    print(f"\n{params / 1e6:.1f}M parameters, {len(blobs[0]) / 1e6:.0f} MB per update ({args.wire}), 4 nodes")
    print_table(
        ["path", "median s", "MB/s"],
        [["raw SET/GET", raw, moved / raw / 1e6], ["exchange round", exchange, moved / exchange / 1e6]],
    )
    print(f"\nexchange / raw throughput: {ratio:.2f} (target >= 0.8)")
    write_results(
        f"exchange-{args.wire}",
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
