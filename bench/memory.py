"""Embedded-mode memory over a long run: 2 local nodes (threads) train --steps sync_sgd steps on
the tiny preset through one in-memory exchange; RSS is read before and after, and after every
500th round, with the keys the exchange holds. Before rounds were forgotten, every proposal of
every round stayed in memory; now RSS stays flat: the ratio after/before is printed.

    python -m bench.memory [--steps 2000]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from bench._common import SHARED_DATA, print_table, write_results
from engine.config import Policy, TrainConfig, make_strategy, tiny
from engine.data import Corpus
from engine.datasets import load_bytes
from engine.exchange import InMemoryExchange, MemoryStore
from engine.local import run_local_swarm
from engine.node import NodeSpec


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    corpus = Corpus.from_bytes(load_bytes("file:wikitext-2/valid.txt", data_roots=[SHARED_DATA]))
    store = MemoryStore()
    samples: list[tuple[int, float, int]] = []

    class Sample:
        def log(self, metrics: Mapping[str, float], step: int) -> None:
            pass

        def round(self, outcome: object, model_hash: str, state: object, step: int) -> None:
            if step % 500 == 0:
                samples.append((step, rss_mb(), len(store.keys())))

    members = ("node_a", "node_b")
    train = TrainConfig(batch_size=2, max_steps=args.steps, learning_rate=3e-3, log_every=10**9, eval_batches=1)
    specs = [
        NodeSpec(m, members, tiny(), train, make_strategy("sync_sgd"), Policy(check_loss=False), "memory")
        for m in members
    ]
    run_local_swarm(specs, corpus=corpus, exchange_factory=lambda: InMemoryExchange(store))  # warm-up: allocator
    before = rss_mb()
    samples.clear()
    run_local_swarm(
        specs, corpus=corpus, exchange_factory=lambda: InMemoryExchange(store), reporters={"node_a": Sample()}
    )
    after = rss_mb()
    print_table(["step", "RSS MB", "exchange keys"], samples)
    print(f"\nRSS before {before:.0f} MB, after {args.steps} more steps {after:.0f} MB: ratio {after / before:.3f}")
    write_results("memory", {"steps": args.steps, "rss_before_mb": before, "rss_after_mb": after, "samples": samples})


if __name__ == "__main__":
    main()
