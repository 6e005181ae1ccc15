"""The training engine: pure PyTorch, never imports Django (tests/test_layers.py checks it).
The bottom layer beside ncrsh_site: every app may use it; it uses none of them.

config       the configs, torch-free (the web process validates session plans with them)
model        GPT-style decoder (config dataclass, presets tiny() and default())
data         byte tokenizer, deterministic split and per-node shards; datasets: specs to text
trainer      inner loop: AdamW (or SGD) with warmup + cosine, clipping, bf16 autocast on CUDA
strategies   sync_sgd, cooperative_sgd, diloco: when a node syncs and how the outcome moves it
wire         wire formats (float32, float16, bfloat16, blockwise int8), packed on the device
exchange     where proposals, votes and decisions meet: in-memory (tensors) or Redis (chunks)
voting       validation of proposals (pure functions); quorum: the tally
aggregation  mean, trimmed mean, coordinate median, Krum, each with its bound
rounds       one round of the protocol: propose, collect, vote, decide, merge
node         a node's whole run: inner steps and rounds, reporting and stopping
faults       test-only fault injection, as an exchange wrapper
local        n nodes as threads in one process (embedded mode, tests, benchmarks)
checkpoint   safetensors + JSON metadata, atomic writes, sha256-verified loads
"""
