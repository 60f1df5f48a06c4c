#!/usr/bin/env bash
# Long fuzzing runs (docs/fuzzing.md). Builds the fuzz preset (clang-15, ASan + UBSan, libFuzzer)
# and runs the named targets one after another for SECONDS each, keeping the corpus each run
# grows under build/fuzz/long/<target>/corpus (the seeds in tests/fuzz/corpus are only read).
# A crash, leak or sanitizer report fails the script (after the other targets ran), with the
# input saved in build/fuzz/long/<target>/ and the log in build/fuzz/long/<target>.log.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  per target (default 1800); TARGET default: all five
#   e.g. scripts/fuzz.sh 1800 fuzz_gemm fuzz_attention
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(fuzz_gemm fuzz_attention fuzz_plugin_table fuzz_cache_entry fuzz_tuning_db)
usage() {
  cat <<USAGE
Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
       scripts/fuzz.sh --help

Installs missing dependencies, builds the fuzz preset (clang-15, ASan + UBSan, libFuzzer) and
runs each TARGET for SECONDS, keeping the corpus it grows under build/fuzz/long/TARGET/corpus.
A crash, leak or sanitizer report fails the script, with the input and log kept there
(docs/fuzzing.md).

  SECONDS  per target, a whole number above 0 (default 1800)
  TARGET   one of: ${all_targets[*]} (default: all)
  --help   this text (nothing is installed or built)
USAGE
}

for arg in "$@"; do
  if [[ $arg == -h || $arg == --help ]]; then
    usage
    exit 0
  fi
done
seconds="${1:-1800}"
if [[ ! $seconds =~ ^[0-9]+$ ]] || ((10#$seconds == 0)); then
  echo "scripts/fuzz.sh: SECONDS must be a whole number above 0, got '$seconds'" >&2
  usage >&2
  exit 2
fi
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=("${all_targets[@]}")
fi
for target in "${targets[@]}"; do
  if [[ " ${all_targets[*]} " != *" $target "* ]]; then
    echo "scripts/fuzz.sh: unknown target '$target' (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

scripts/install-deps.sh
cmake --preset fuzz
cmake --build --preset fuzz -j "$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:use_sigaltstack=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for target in "${targets[@]}"; do
  echo "fuzz: $target for $seconds s"
  mkdir -p "build/fuzz/long/$target"
  rc=0
  tests/fuzz/run_fuzzer.sh "build/fuzz/bin/$target" "tests/fuzz/corpus/$target" "$seconds" \
    "build/fuzz/long/$target" > "build/fuzz/long/$target.log" 2>&1 || rc=$?
  grep -E "^#[0-9]+ +(INITED|DONE)|^stat::|FINDING|SUMMARY" "build/fuzz/long/$target.log" || true
  if ((rc != 0)); then
    echo "fuzz: $target failed (exit $rc); see build/fuzz/long/$target.log" >&2
    status=1
  fi
done
exit "$status"
