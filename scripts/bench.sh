#!/usr/bin/env bash
# The README's benchmark command: installs what is missing, builds the release preset, and runs
# xinhe-bench on the default backends (CPU and OpenCL/PoCL). Extra arguments go to xinhe-bench,
# e.g. scripts/bench.sh --compare --json bench.json
# scripts/bench.sh --python [ARGS] instead runs the model-level bench of xinhe.torch
# (python/bench/bench_llama.py: forward and decode tokens/s of a Llama-style model on every
# xinhe device against PyTorch eager on the CPU) in the environment scripts/python-env.sh
# makes; ARGS go to it (--help lists them).
# --help (-h) prints this usage at once, without installing or building anything.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/bench.sh [XINHE-BENCH OPTIONS...]
       scripts/bench.sh --python [BENCH_LLAMA OPTIONS...]
       scripts/bench.sh --help

Installs missing dependencies (scripts/install-deps.sh), configures and builds the release
preset, then runs build/release/bin/xinhe-bench --devices default with the options given,
e.g. scripts/bench.sh --compare --json bench.json.

  --python   run the model-level bench of xinhe.torch (python/bench/bench_llama.py) in the
             environment scripts/python-env.sh makes; the options after it go to it
             (scripts/bench.sh --python --help lists them, after setting up that environment)
  --help     this text, then xinhe-bench's options when it is built (nothing is installed
             or built)
USAGE
}

if [[ ${1:-} != --python ]]; then
  for arg in "$@"; do
    if [[ $arg == --help || $arg == -h ]]; then
      usage
      echo
      if [[ -x build/release/bin/xinhe-bench ]]; then
        echo "xinhe-bench options (from build/release/bin/xinhe-bench --help):"
        exec build/release/bin/xinhe-bench --help
      fi
      echo "xinhe-bench is not built yet: scripts/bench.sh builds it; then"
      echo "build/release/bin/xinhe-bench --help lists its options (docs/bench-format.md too)."
      exit 0
    fi
  done
fi

scripts/install-deps.sh
if [[ ${1:-} == --python ]]; then
  shift
  scripts/python-env.sh
  exec build/python-venv/bin/python python/bench/bench_llama.py "$@"
fi
cmake --preset release
cmake --build --preset release -j "$(nproc)"
exec build/release/bin/xinhe-bench --devices default "$@"
