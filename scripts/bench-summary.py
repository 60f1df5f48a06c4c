#!/usr/bin/env python3
"""Summarize several xinhe-bench --json runs of the same command into one table.

A single run on a shared machine can be off by tens of percent; the ratio to a peer measured
side by side in the same run is steadier. For every (op, dtype, shape, device, threads, peer)
this prints each run's xinhe/peer ratio (peer median time / xinhe median time, above 1: xinhe
is faster), their median, and xinhe's median throughput and share of the measured peak.

    scripts/bench-summary.py run1.json run2.json run3.json [--markdown]

A file that cannot be read, or whose results lack a field this script uses, is named with the
field on stderr, exit status 2.
"""
import argparse
import json
import statistics
import sys
from collections import OrderedDict


# The fields of a result record this script reads (docs/bench-format.md).
REQUIRED_FIELDS = ("op", "dtype", "shape_text", "device", "impl", "median_ms", "tflops")


def refuse(message):
    """Bad input: the message on stderr, exit 2 (as xinhe-bench does)."""
    print(f"bench-summary: {message}", file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        refuse(f"cannot read {path}: {e}")
    # Checked here so that a malformed file is named, not a KeyError traceback later.
    if not isinstance(report, dict):
        refuse(f"{path}: not a JSON object written by xinhe-bench --json")
    results = report.get("results", [])
    if not isinstance(results, list):
        refuse(f"{path}: 'results' is not a list")
    for i, r in enumerate(results):
        if not isinstance(r, dict):
            refuse(f"{path}: results[{i}] is not an object")
        for field in REQUIRED_FIELDS:
            if field not in r:
                refuse(f"{path}: results[{i}] has no '{field}' field")
    return report


def key_of(result):
    return (result["op"], result["dtype"], result["shape_text"], result["device"],
            result.get("threads"))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="JSON files written by xinhe-bench --json")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()

    ratios = OrderedDict()  # (key, peer) -> [ratio per run]
    gflops = {}             # key -> [xinhe GFLOP/s per run]
    peak = {}               # key -> [xinhe % of peak per run]
    for path in args.runs:
        report = load(path)
        xinhe = {}
        for r in report.get("results", []):
            if r["impl"] == "xinhe":
                xinhe[key_of(r)] = r
                gflops.setdefault(key_of(r), []).append(r["tflops"] * 1e3)
                if r.get("pct_of_peak") is not None:
                    peak.setdefault(key_of(r), []).append(r["pct_of_peak"])
        for r in report.get("results", []):
            mine = xinhe.get(key_of(r))
            if r["impl"] != "xinhe" and mine is not None:
                ratios.setdefault((key_of(r), r["impl"]), []).append(
                    r["median_ms"] / mine["median_ms"])
    if not ratios:
        sys.exit("bench-summary: no xinhe/peer pairs in these files (run xinhe-bench with --compare)")

    header = ["op", "dtype", "shape", "device", "threads", "peer", "ratio per run",
              "median ratio", "xinhe GFLOP/s", "% peak"]
    rows = []
    for (key, peer), values in ratios.items():
        op, dtype, shape, device, threads = key
        pct = peak.get(key)
        rows.append([op, dtype, shape, device, "-" if threads is None else str(threads), peer,
                     " / ".join(f"{v:.2f}" for v in sorted(values)),
                     f"{statistics.median(values):.2f}x",
                     f"{statistics.median(gflops[key]):.1f}",
                     f"{statistics.median(pct):.0f}" if pct else "-"])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        for row in [header] + rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    main()
