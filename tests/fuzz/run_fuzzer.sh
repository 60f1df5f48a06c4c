#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on its seed corpus (read-only: new inputs go to
# WORK/corpus) and prints libFuzzer's final statistics. Exit status is the fuzzer's: non-zero
# on a crash, a leak, a sanitizer report or a timeout, with the input saved under WORK/.
# Usage: run_fuzzer.sh FUZZER SEED_DIR SECONDS WORK_DIR [extra libFuzzer flags...]
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3 work=$4
shift 4
mkdir -p "$work/corpus"
# One input may take at most 10 s and 2 GiB; -use_value_profile widens what counts as progress.
exec "$fuzzer" "$work/corpus" "$seeds" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -malloc_limit_mb=2048 -use_value_profile=1 -print_final_stats=1 \
  -artifact_prefix="$work/" "$@"
