"""The data path at scale: prepare a large token dataset, then measure what a worker sees.

    python -m bench.data [--tokens 1000000000] [--keep DIR] [--device cpu|cuda]

1. Prepare: wikitext-2 repeated to ``--tokens`` byte tokens (2 GB of uint16 shards at the
   default), through ``engine.shards.prepare``; tokens/s.
2. A worker process (a fresh interpreter, as a node is): open the dataset, verify its range,
   build the tiny model, train ``--steps`` steps; the seconds from open to the first step, and
   its RSS growth over the run (target < 300 MB: the shards are memory-mapped, never loaded).
3. Loader vs consumer, in this process: tokens/s that ``Batches`` delivers (node 0 of 2, the
   default preset's batch and sequence) against tokens/s that the default preset trains on
   this device; target ratio >= 20.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from bench._common import SHARED_DATA, print_table, write_results
from engine.config import TrainConfig, default, tiny
from engine.data import Batches, Corpus
from engine.model import build_model
from engine.shards import Progress, prepare
from engine.tokenizer import load_tokenizer
from engine.trainer import Trainer


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def worker(folder: Path, steps: int, device: torch.device) -> dict[str, float]:
    """What a node does with a prepared dataset, in this (fresh) process: open, take its range,
    train the tiny preset."""
    model_config, train = tiny(), TrainConfig(batch_size=32, max_steps=steps, learning_rate=1e-3)
    trainer = Trainer(build_model(model_config, seed=0).to(device), train, total_steps=steps, device=device)
    warm = torch.randint(0, 256, (train.batch_size, model_config.seq_len + 1))
    trainer.forward_backward(warm[:, :-1], warm[:, 1:])  # torch's own first-step allocations, not the data's
    trainer.step()
    before = rss_mb()
    started = time.perf_counter()
    corpus = Corpus.open(folder)
    batches = Batches(corpus.shard(0, 2), batch_size=train.batch_size, seq_len=model_config.seq_len, seed=1)
    trainer.forward_backward(*batches.next())
    trainer.step()
    first_step_s = time.perf_counter() - started
    for _ in range(steps - 1):
        trainer.forward_backward(*batches.next())
        trainer.step()
    return {"first_step_s": first_step_s, "rss_before_mb": before, "rss_after_mb": rss_mb()}


def repeated_text(total_bytes: int) -> Iterator[str]:
    text = (SHARED_DATA / "wikitext-2" / "valid.txt").read_text(encoding="utf-8")
    size, sent = len(text.encode("utf-8")), 0
    while sent < total_bytes:
        yield text
        sent += size


def consumer_tokens_per_s(device: torch.device, steps: int) -> float:
    """The default preset's training throughput here (what a node consumes)."""
    config = default()
    train = TrainConfig(batch_size=8 if device.type == "cpu" else 32, max_steps=steps + 2)
    trainer = Trainer(build_model(config, seed=0).to(device), train, total_steps=steps + 2, device=device)
    batch = torch.randint(0, 256, (train.batch_size, config.seq_len + 1))
    for _ in range(2):
        trainer.forward_backward(batch[:, :-1], batch[:, 1:])
        trainer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.forward_backward(batch[:, :-1], batch[:, 1:])
        trainer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * train.batch_size * config.seq_len / (time.perf_counter() - started)


def loader_tokens_per_s(corpus: Corpus, batch_size: int, seq_len: int, seconds: float = 3.0) -> float:
    batches = Batches(corpus.shard(0, 2), batch_size=batch_size, seq_len=seq_len, seed=7)
    started, drawn = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        batches.next()
        drawn += 1
    return drawn * batch_size * seq_len / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=float, default=1e9, help="byte tokens to prepare (2 bytes each on disk)")
    parser.add_argument("--keep", type=Path, help="prepare into (or reuse) this folder instead of a temporary one")
    parser.add_argument("--steps", type=int, default=200, help="tiny-preset steps of the worker process")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # step 2's process
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps, device)))
        return
    with tempfile.TemporaryDirectory(prefix="ncrsh-bench-data-") as scratch:
        root = args.keep or Path(scratch)
        folder = root / "big"
        prepare_s = None
        if not (folder / "manifest.json").exists():
            last = [0.0]

            def progress(done: Progress) -> None:
                if time.monotonic() - last[0] > 2:
                    last[0] = time.monotonic()
                    print(
                        f"  prepared {done.tokens / 1e6:,.0f}M tokens, {done.tokens_per_s / 1e6:.1f}M tokens/s",
                        flush=True,
                    )

            started = time.perf_counter()
            manifest = prepare(
                repeated_text(int(args.tokens)),
                tokenizer=load_tokenizer("byte"),
                root=root,
                name="big",
                source="wikitext-2 repeated",
                progress=progress,
            )
            prepare_s = time.perf_counter() - started
            total = manifest["train"]["tokens"] + manifest["val"]["tokens"]
            print(f"prepared {total / 1e6:,.0f}M tokens in {prepare_s:.1f}s: {total / prepare_s / 1e6:.1f}M tokens/s")
        size_gb = sum(p.stat().st_size for p in folder.glob("*.bin")) / 1e9
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.data",
                "--worker",
                str(folder),
                "--steps",
                str(args.steps),
                "--device",
                args.device,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        seen = json.loads(process.stdout.strip().splitlines()[-1])
        growth = seen["rss_after_mb"] - seen["rss_before_mb"]
        corpus = Corpus.open(folder)
        config = default()
        batch = 8 if device.type == "cpu" else 32
        loader = loader_tokens_per_s(corpus, batch, config.seq_len)
        consumer = consumer_tokens_per_s(device, steps=5 if device.type == "cpu" else 30)
    rows = [
        ["dataset on disk (GB)", size_gb],
        ["worker: open to first step (s)", seen["first_step_s"]],
        [f"worker: RSS growth over {args.steps} tiny steps (MB)", growth],
        ["loader tokens/s (default preset batch)", loader],
        [f"default preset trains tokens/s ({device.type})", consumer],
        ["loader / consumer", loader / consumer],
    ]
    print()
    print_table(["measure", "value"], rows)
    print(f"\nRSS growth {growth:.0f} MB (target < 300); loader/consumer {loader / consumer:.0f}x (target >= 20)")
    write_results(
        "data",
        {
            "args": {k: str(v) for k, v in vars(args).items()},
            "prepare_s": prepare_s,
            "dataset_gb": size_gb,
            "worker": seen,
            "rss_growth_mb": growth,
            "loader_tokens_per_s": loader,
            "consumer_tokens_per_s": consumer,
            "ratio": loader / consumer,
        },
    )


if __name__ == "__main__":
    main()
