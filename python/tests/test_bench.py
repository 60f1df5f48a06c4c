"""The model bench (python/bench/bench_llama.py) on a tiny model: it measures PyTorch's CPU row
in its own process with the environment as given and each xinhe device in a child process with
OMP_WAIT_POLICY=PASSIVE (or all in one process with --xinhe-omp-wait-policy inherit), and its
JSON has a row per device with the share of FLOPs that ran in xinhe."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "bench", "bench_llama.py")
TINY = ["--hidden", "64", "--layers", "1", "--heads", "4", "--kv-heads", "2", "--intermediate",
        "96", "--vocab", "128", "--prompt", "8", "--rounds", "1", "--warmup", "0",
        "--devices", "cpu:0"]


def run_bench(tmp_path, *extra):
    report = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, BENCH, *TINY, "--json", str(report), *extra], env=env,
                         check=True, capture_output=True, text=True, timeout=240).stdout
    return out, json.loads(report.read_text())


@pytest.mark.parametrize("policy", ["passive", "inherit"])
def test_rows_per_device(tmp_path, policy):
    out, report = run_bench(tmp_path, "--xinhe-omp-wait-policy", policy)
    assert [r["device"] for r in report["rows"]] == ["torch-cpu", "cpu:0"]
    assert report["config"]["xinhe_omp_wait_policy"] == policy
    cpu, xinhe_row = report["rows"]
    assert cpu["forward_vs_cpu"] == 1.0
    for row in report["rows"]:
        assert row["forward_tokens_per_s"] > 0 and row["decode_tokens_per_s"] > 0
    assert xinhe_row["xinhe_flop_share"] > 0.99
    assert xinhe_row["forward_vs_cpu"] == pytest.approx(
        xinhe_row["forward_tokens_per_s"] / cpu["forward_tokens_per_s"])
    assert cpu["omp_wait_policy"] is None  # PyTorch's row: the environment as given (unset)
    assert xinhe_row["omp_wait_policy"] == ("PASSIVE" if policy == "passive" else None)
    expected = ("OMP_WAIT_POLICY=PASSIVE (child process)" if policy == "passive"
                else "OMP_WAIT_POLICY=unset")
    assert f"xinhe devices: {expected}" in out, out
