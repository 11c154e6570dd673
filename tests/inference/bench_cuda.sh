#!/usr/bin/env bash
# bench_cuda: the CUDA backend at batch 256 against the CPU backend at batch 256, in one
# run (bin/cuda-bench-inference, built by `make cuda`): aggregate tokens/s, their ratio
# (target 20x), step latency, and the GPU time split between cuBLAS products and our
# kernels. Skipped where there is no GPU or the CUDA build is missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${ARENA_BIN:=$PWD/bin}"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo "no GPU: skipped"
  exit 0
fi
if [[ ! -x $ARENA_BIN/cuda-bench-inference ]]; then
  echo "no CUDA build (run make cuda): skipped"
  exit 0
fi
exec "$ARENA_BIN/cuda-bench-inference"
