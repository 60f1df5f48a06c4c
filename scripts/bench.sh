#!/usr/bin/env bash
# The README's benchmark command: installs what is missing, builds the release preset, and runs
# xinhe-bench on the default backends (CPU and OpenCL/PoCL). Extra arguments go to xinhe-bench,
# e.g. scripts/bench.sh --compare --json bench.json
# scripts/bench.sh --python [ARGS] instead runs the model-level bench of xinhe.torch
# (python/bench/bench_llama.py: forward and decode tokens/s of a Llama-style model on every
# xinhe device against PyTorch eager on the CPU) in the environment scripts/python-env.sh
# makes; ARGS go to it (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [[ ${1:-} == --python ]]; then
  shift
  scripts/python-env.sh
  exec build/python-venv/bin/python python/bench/bench_llama.py "$@"
fi
cmake --preset release
cmake --build --preset release -j "$(nproc)"
exec build/release/bin/xinhe-bench --devices default "$@"
