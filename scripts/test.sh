#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite.
# Usage: scripts/test.sh [PRESET]   PRESET: release (default), debug, asan, tsan
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"

scripts/install-deps.sh
cmake --preset "$preset"
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)" --timeout 1200
