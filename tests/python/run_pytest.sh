#!/usr/bin/env bash
# Runs one pytest file in the xinhe virtual environment; exits 77 (ctest: skipped) with the
# reason when there is none or the build is instrumented.
# Usage: run_pytest.sh VENV TEST_FILE REPORT_JSON [SKIP_REASON]
set -uo pipefail
venv=$1 test=$2 report=$3 reason=${4:-}
if [[ -n $reason ]]; then
  echo "SKIPPED: $reason"
  exit 77
fi
if [[ ! -x $venv/bin/python ]]; then
  echo "SKIPPED: no Python environment at $venv; scripts/python-env.sh makes it" \
       "(scripts/test.sh does so in the release preset)"
  exit 77
fi
export XINHE_MODEL_REPORT=$report
exec "$venv/bin/python" -m pytest -q -s -p no:cacheprovider "$test"
