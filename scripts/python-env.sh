#!/usr/bin/env bash
# Makes build/python-venv: a virtual environment with the pinned packages of
# python/requirements.txt (PyTorch's Linux wheel pulls about 5 GB of CUDA runtime wheels even
# for CPU use) and the xinhe package built from this checkout. Idempotent: the packages are
# installed again only when the requirements change, and the package build is incremental
# (build/python/). Usage: scripts/python-env.sh   (XINHE_PYTHON picks the interpreter)
# The package is installed with --no-build-isolation so that the build uses the venv's torch
# instead of downloading it a second time into an isolated build environment; on a fresh
# venv, `pip install .` alone does the same job (README, docs/frameworks.md).
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# > 0)); then
  if [[ $1 == -h || $1 == --help ]]; then
    cat <<'USAGE'
Usage: scripts/python-env.sh

Makes build/python-venv: a virtual environment with the pinned packages of
python/requirements.txt (installed again only when that file changes) and the xinhe package
built from this checkout (incrementally, in build/python). Takes no options; XINHE_PYTHON
picks the interpreter that creates the environment (default python3).
USAGE
    exit 0
  fi
  echo "scripts/python-env.sh: takes no arguments, got: $* (--help for usage)" >&2
  exit 2
fi
venv=build/python-venv
python="${XINHE_PYTHON:-python3}"
start=$SECONDS

if [[ ! -x $venv/bin/python ]]; then
  "$python" -m venv "$venv"
fi
stamp=$venv/.requirements.sha256
want=$(sha256sum python/requirements.txt | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "python-env: installing python/requirements.txt into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r python/requirements.txt
  echo "$want" > "$stamp"
fi
echo "python-env: packages ready after $((SECONDS - start)) s; building the xinhe package"
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-deps .
echo "python-env: xinhe installed in $venv after $((SECONDS - start)) s"
