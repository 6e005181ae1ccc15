"""The training engine: pure PyTorch, never imports Django.

model        GPT-style decoder (config dataclass, presets tiny() and default())
data         byte tokenizer, dataset specs, deterministic split and per-node shards
trainer      inner loop: AdamW (or SGD) with warmup + cosine, clipping, bf16 autocast on CUDA
strategies   sync_sgd, cooperative_sgd, diloco: what is exchanged and the outer step
exchange     where proposals, votes and decisions meet: in-memory (threads) or Redis
voting       validation of proposals and the quorum tally (pure functions)
aggregation  mean, trimmed mean, coordinate median, Krum, each with its bound
rounds       one round of the protocol: propose, validate, vote, decide, aggregate
node         a node's whole run: inner steps and rounds, reporting and stopping
local        n nodes as threads in one process (embedded mode, tests, benchmarks)
checkpoint   safetensors + JSON metadata, atomic writes, sha256-verified loads
"""
