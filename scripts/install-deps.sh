#!/usr/bin/env bash
# Installs the Debian packages xinhe needs to build, test and benchmark, when missing.
# Usage: scripts/install-deps.sh
# hipcc and libamdhip64-dev are Debian's ROCm 5.2 toolchain: they let the HIP plugin compile on
# any machine (no AMD GPU needed), as the CUDA toolkit does for the CUDA plugin.
# python3-venv and python3-dev: the Python package's virtual environment and its native build
# (its PyPI packages are pinned in python/requirements.txt and pyproject.toml). clang-15 with
# libclang-common-15-dev (libFuzzer and the sanitizer runtimes) builds the fuzz preset.
# libze1 and libze-dev are the oneAPI Level Zero loader (with its validation layer) and headers;
# clang-15, llvm-15 (opt), llvm-spirv-15 and spirv-tools compile the OpenCL C kernels to SPIR-V
# for the Level Zero plugin, and llvm-spirv-15 also serves its CPU test driver.
set -euo pipefail

if (($# > 0)); then
  if [[ $1 == -h || $1 == --help ]]; then
    echo "Usage: scripts/install-deps.sh"
    echo
    echo "Installs the Debian packages xinhe needs to build, test and benchmark that are not"
    echo "installed yet (apt-get, through sudo when not root); prints which. Takes no options."
    exit 0
  fi
  echo "scripts/install-deps.sh: takes no arguments, got: $* (--help for usage)" >&2
  exit 2
fi

packages=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libfmt-dev libcli11-dev nlohmann-json3-dev
  libopenblas-dev libclblast-dev libhwy-dev libdnnl-dev libdnnl2
  ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
  hipcc libamdhip64-dev
  python3 python3-venv python3-dev
  clang-15 libclang-common-15-dev
  libze1 libze-dev llvm-15 llvm-spirv-15 spirv-tools
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
