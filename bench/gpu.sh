#!/usr/bin/env bash
# The one-shot GPU check, for any session that changes the engine and has a GPU (device tool):
#   1. the engine's tests on CUDA (NCRSH_TEST_DEVICE=cuda: the same tests as on the CPU)
#   2. a 2-node DiLoCo run of the GPT-2-small shape (768/12/12, seq 1024, 86M) with the default
#      policy (held-out probe on), and its round cost breakdown
#   3. engine vs plain PyTorch tokens/s and MFU at 768/12/12 and 1024/24/16 (304M), compiled
#   4. the data loader's tokens/s against what the default preset trains on the GPU (bench.data)
#   5. on a host of 2+ GPUs: a node of all of them (DDP, then FSDP, over NCCL) against one GPU
#      (bench.ranks). The `ncrsh worker --gpus` session end to end needs PostgreSQL and Redis,
#      which the device machine lacks: run tests/e2e/test_multiprocess_nodes.py on a GPU host
#      that has them, with workers started `--gpus 0,1` instead of `--nproc 2`.
# Sized for under 8 minutes on an H100. Its log goes to $OUT/gpu.log (device tool) or
# bench/results/gpu.log. Python packages missing on the GPU host travel as wheels in .whl/
# (see the device tool's README): the exchange needs redis-py, the tokenizers `tokenizers`, the
# signed-vote tests in tests/engine/test_rounds.py `cryptography`.
#
#   bash bench/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
LOG_DIR=${OUT:-bench/results}
mkdir -p "$LOG_DIR"
exec > >(tee "$LOG_DIR/gpu.log") 2>&1

if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl ||
    exit 1
  export PYTHONPATH="/tmp/site:$PWD"
fi
export PYTHONUNBUFFERED=1 NCRSH_TEST_DEVICE=cuda
# ../shared/data does not travel to the device machine: a copy of what the tests read may
# (mkdir -p .gpu_data/wikitext-2 && cp ../shared/data/wikitext-2/valid.txt .gpu_data/wikitext-2/).
[ -d .gpu_data ] && export NCRSH_SHARED_DATA="$PWD/.gpu_data"
failed=0
step() {
  local limit=$1
  shift
  echo
  echo "\$ $* (at most ${limit}s)"
  local started=$SECONDS
  timeout "$limit" "$@" || { echo "FAILED: $*"; failed=1; }
  echo "($((SECONDS - started)) s)"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, torch.cuda.get_device_name())"
# The export and tracking tests need transformers and wandb (the dev extra), not a GPU.
step 210 python3 -m pytest tests/engine --confcutdir=tests/engine -p no:django -p no:cacheprovider -q \
  --ignore=tests/engine/test_export.py --ignore=tests/engine/test_tracking.py
step 120 python3 -m bench.round_cost --shape 768,12,12,1024 --local-steps 50 --batch-size 16 --rounds 3 --check-loss
step 120 python3 -m bench.overhead --shape 768,12,12,1024 --batch-size 16 --compile --blocks 4 --steps 10
step 120 python3 -m bench.overhead --shape 1024,24,16,1024 --batch-size 8 --compile --blocks 4 --steps 10
step 60 python3 -m bench.data --tokens 2e8 --steps 200
gpus=$(nvidia-smi -L | wc -l)
if [ "$gpus" -ge 2 ]; then
  step 180 python3 -m bench.ranks --device cuda --nproc "$gpus" --preset default --batch-size 32 --steps 60
fi
cp bench/results/*.json "$LOG_DIR"/ 2>/dev/null || true
echo
[ "$failed" = 0 ] && echo "GPU CHECK PASSED" || echo "GPU CHECK FAILED"
exit "$failed"
