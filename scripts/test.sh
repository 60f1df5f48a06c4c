#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite.
# Usage: scripts/test.sh [PRESET]   PRESET: release (default), debug, asan, tsan, fuzz
# (fuzz: the libFuzzer targets of tests/fuzz, each run briefly on its seeds; docs/fuzzing.md)
# The asan preset runs with ASAN_OPTIONS use_sigaltstack=0 (LLVM inside PoCL installs its own
# alternate signal stack on the threads it touches, which ASan would try to unmap at thread exit)
# and LSAN_OPTIONS use_tls=0 with tests/lsan.supp (GCC 12's LeakSanitizer crashes on a bogus
# dynamic-TLS block it records on glibc 2.36; see CMakePresets.json).
# The release preset also makes the Python environment (scripts/python-env.sh: pinned PyTorch
# and the xinhe package) for the python.* tests; the sanitizer presets skip those with the
# reason (CPython and PyTorch are not instrumented).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"

scripts/install-deps.sh
cmake --preset "$preset"
cmake --build --preset "$preset" -j "$(nproc)"
if [[ $preset == release ]]; then
  scripts/python-env.sh
fi
ctest --preset "$preset" -j "$(nproc)" --timeout 1200
