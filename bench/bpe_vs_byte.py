"""BPE vs byte tokens on wikitext-2, at the same wall-clock budget: held-out bits per byte.

    python -m bench.bpe_vs_byte [--presets tiny,default] [--seconds 60] [--vocab-tiny 1024] [--vocab-default 4096]

wikitext-2's valid.txt is prepared twice (engine.shards: every tenth piece held out, the same
pieces for both), with the byte tokenizer and with a byte-level BPE trained on the training
pieces only. For each preset one node trains each for ``--seconds`` (its learning-rate
schedule sized to the steps that fit, from a timed warm-up), then the held-out split is scored
in bits per byte: loss / ln 2 / (bytes per token), so the two tokenizers compare directly.
The BPE model must not be worse (ratio bpe/byte <= 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench._common import SHARED_DATA, print_table, write_results
from engine.config import PRESETS, TrainConfig
from engine.data import Batches, Corpus, validation_batches
from engine.datasets import iter_texts
from engine.model import build_model
from engine.shards import prepare, train_texts
from engine.tokenizer import Tokenizer, load_tokenizer, train_bpe
from engine.trainer import Trainer

SOURCE = "file:wikitext-2/valid.txt"


def texts() -> list[str]:
    return list(iter_texts(SOURCE, data_roots=[SHARED_DATA]))


def train_for(
    corpus: Corpus, preset: str, seconds: float, batch_size: int, lr: float, device: torch.device
) -> dict[str, float]:
    config = dataclasses.replace(PRESETS[preset](), vocab_size=corpus.tokenizer.vocab_size)
    model = build_model(config, seed=0).to(device)
    batches = Batches(corpus.train, batch_size=batch_size, seq_len=config.seq_len, seed=1)
    # A timed warm-up sizes the schedule: as many steps as fit in the budget.
    probe = Trainer(
        build_model(config, seed=0).to(device), TrainConfig(batch_size=batch_size), total_steps=10, device=device
    )
    started = time.perf_counter()
    for _ in range(5):
        probe.forward_backward(*batches.next())
        probe.step()
    steps = max(20, int(seconds / ((time.perf_counter() - started) / 5)))
    batches = Batches(corpus.train, batch_size=batch_size, seq_len=config.seq_len, seed=1)
    train = TrainConfig(batch_size=batch_size, learning_rate=lr, max_steps=steps, warmup_steps=min(100, steps // 10))
    trainer = Trainer(model, train, total_steps=steps, device=device)
    started, done = time.perf_counter(), 0
    while done < steps and time.perf_counter() - started < seconds:
        trainer.forward_backward(*batches.next())
        trainer.step()
        done += 1
    val = validation_batches(corpus.val, batch_size=batch_size, seq_len=config.seq_len, max_batches=64)
    loss, _ = trainer.evaluate(val)
    return {
        "steps": done,
        "seconds": time.perf_counter() - started,
        "val_loss": loss,
        "bytes_per_token": corpus.bytes_per_token,
        "val_bits_per_byte": corpus.bits_per_byte(loss),
        "vocab_size": corpus.tokenizer.vocab_size,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="tiny,default")
    parser.add_argument("--seconds", type=float, default=60.0, help="training budget of each run")
    parser.add_argument("--vocab-tiny", type=int, default=1024)
    parser.add_argument("--vocab-default", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows: list[list[object]] = []
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ncrsh-bench-tok-") as scratch:
        root = Path(scratch)
        for preset in args.presets.split(","):
            vocab = args.vocab_tiny if preset == "tiny" else args.vocab_default
            tokenizers: dict[str, Tokenizer] = {
                "byte": load_tokenizer("byte"),
                f"bpe{vocab}": train_bpe(train_texts(texts()), vocab_size=vocab),
            }
            scores = {}
            for name, tokenizer in tokenizers.items():
                folder = root / name
                if not folder.exists():
                    prepare(texts(), tokenizer=tokenizer, root=root, name=name, source=SOURCE)
                scores[name] = train_for(Corpus.open(folder), preset, args.seconds, args.batch_size, args.lr, device)
                s = scores[name]
                rows.append([preset, name, s["steps"], s["val_loss"], s["bytes_per_token"], s["val_bits_per_byte"]])
                print(f"{preset} {name}: {s['steps']} steps, {s['val_bits_per_byte']:.4f} bits/byte", flush=True)
            byte, bpe = (scores[n]["val_bits_per_byte"] for n in tokenizers)
            results[preset] = {"runs": scores, "bpe_over_byte": bpe / byte}
    print()
    print_table(["preset", "tokenizer", "steps", "val loss (nats/token)", "bytes/token", "val bits/byte"], rows)
    for preset, result in results.items():
        ratio = result["bpe_over_byte"]
        print(
            f"{preset}: bpe / byte held-out bits per byte {ratio:.3f}"
            f" (target <= 1: {'met' if ratio <= 1 else 'NOT met'})"
        )
    name = "bpe_vs_byte-" + "-".join(results)
    write_results(name, {"args": vars(args), "results": results, "ln2": math.log(2)})


if __name__ == "__main__":
    main()
