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

usage() {
  cat <<'USAGE'
Usage: scripts/test.sh [PRESET]
       scripts/test.sh --help

Installs missing dependencies (scripts/install-deps.sh), configures and builds PRESET, and runs
its tests with ctest. The release preset also makes the Python environment first
(scripts/python-env.sh) for the python.* tests.

  PRESET   release (default), debug, asan (AddressSanitizer + UndefinedBehaviorSanitizer),
           tsan (ThreadSanitizer) or fuzz (the libFuzzer targets, each run briefly on its seeds;
           long runs: scripts/fuzz.sh)
  --help   this text (nothing is installed or built)
USAGE
}

presets=(release debug asan tsan fuzz)
if (($# > 1)); then
  echo "scripts/test.sh: one PRESET at most, got $#: $*" >&2
  usage >&2
  exit 2
fi
case "${1:-release}" in
  -h | --help) usage; exit 0 ;;
  release | debug | asan | tsan | fuzz) preset="${1:-release}" ;;
  *)
    echo "scripts/test.sh: unknown preset '$1' (presets: ${presets[*]})" >&2
    usage >&2
    exit 2
    ;;
esac

scripts/install-deps.sh
cmake --preset "$preset"
cmake --build --preset "$preset" -j "$(nproc)"
if [[ $preset == release ]]; then
  scripts/python-env.sh
fi
ctest --preset "$preset" -j "$(nproc)" --timeout 1200
