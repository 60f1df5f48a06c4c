#!/usr/bin/env bash
# The README's benchmark command: installs what is missing, builds the release preset, and runs
# xinhe-bench on the default backends (CPU and OpenCL/PoCL). Extra arguments go to xinhe-bench,
# e.g. scripts/bench.sh --compare --json bench.json
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
exec build/release/bin/xinhe-bench --devices default "$@"
