#!/usr/bin/env python3
"""Summarize several xinhe-bench --json runs of the same command into one table.

A single run on a shared machine can be off by tens of percent; the ratio to a peer measured
side by side in the same run is steadier. For every (op, dtype, shape, device, threads, peer)
this prints each run's xinhe/peer ratio (peer median time / xinhe median time, above 1: xinhe
is faster), their median, and xinhe's median throughput and share of the measured peak.

    scripts/bench-summary.py run1.json run2.json run3.json [--markdown]

A file that cannot be read, or whose results lack a field this script uses (or hold a
median_ms that is not a positive number), is named with the field on stderr, exit status 2.

A result that failed its check (check.passed false) is listed on stderr, shown as FAIL in
"ratio per run" and left out of the medians, GFLOP/s and % peak; the exit status is then 1.
Files whose settings (warmup, runs), xinhe version, host CPU or set of configurations differ
were not made by the same command: each difference is a warning on stderr, and the files are
still summarised. A configuration that appears twice in one file counts once (the first).
"""
import argparse
import json
import math
import signal
import statistics
import sys
from collections import OrderedDict


# The fields of a result record this script reads (docs/bench-format.md).
REQUIRED_FIELDS = ("op", "dtype", "shape_text", "device", "impl", "median_ms", "tflops")


def refuse(message):
    """Bad input: the message on stderr, exit 2 (as xinhe-bench does)."""
    print(f"bench-summary: {message}", file=sys.stderr)
    sys.exit(2)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
        # Ratios divide by median_ms: 0, negative, null or a string is a named error.
        if not is_number(r["median_ms"]) or r["median_ms"] <= 0:
            refuse(f"{path}: results[{i}] 'median_ms' is {json.dumps(r['median_ms'])}, "
                   "not a positive number")
        if not is_number(r["tflops"]):
            refuse(f"{path}: results[{i}] 'tflops' is {json.dumps(r['tflops'])}, not a number")
    return report


def passed(result):
    """check.passed; a file from before the check existed counts as passed."""
    check = result.get("check")
    return not isinstance(check, dict) or check.get("passed", True) is not False


def describe(result):
    threads = result.get("threads")
    return " ".join([result["op"], result["dtype"], result["shape_text"], result["device"],
                     result["impl"]] + ([] if threads is None else [f"threads={threads}"]))


def warn_differences(reports):
    """Names on stderr what differs between files that should come from one command."""
    def configurations(report):
        return sorted({(describe(r)) for r in report.get("results", [])} |
                      {describe(p) for p in report.get("skipped", []) if isinstance(p, dict)
                       and all(isinstance(p.get(k), str) for k in ("op", "dtype", "shape_text",
                                                                     "device", "impl"))})
    (first_path, first), rest = reports[0], reports[1:]
    aspects = (("settings", lambda r: r.get("settings")),
               ("xinhe_version", lambda r: r.get("xinhe_version")),
               ("host CPU", lambda r: (r.get("host") or {}).get("cpu_model")),
               ("configurations", configurations))
    for path, report in rest:
        for name, get in aspects:
            mine, theirs = get(report), get(first)
            if mine == theirs:
                continue
            if name == "configurations":
                only_mine = sorted(set(mine) - set(theirs))
                only_theirs = sorted(set(theirs) - set(mine))
                detail = "; ".join(
                    part for part in (
                        f"only in {path}: {', '.join(only_mine[:3])}" if only_mine else "",
                        f"only in {first_path}: {', '.join(only_theirs[:3])}" if only_theirs
                        else "") if part)
            else:
                detail = f"{json.dumps(theirs)} in {first_path}, {json.dumps(mine)} in {path}"
            print(f"bench-summary: warning: the files differ in {name} (not the same command?): "
                  f"{detail}", file=sys.stderr)


def key_of(result):
    return (result["op"], result["dtype"], result["shape_text"], result["device"],
            result.get("threads"))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="JSON files written by xinhe-bench --json")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()

    reports = [(path, load(path)) for path in args.runs]
    warn_differences(reports)
    ratios = OrderedDict()  # (key, peer) -> [ratio per run, None for a failed check]
    gflops = {}             # key -> [xinhe GFLOP/s per run, passed checks only]
    peak = {}               # key -> [xinhe % of peak per run, passed checks only]
    failures = 0
    for path, report in reports:
        xinhe = {}
        peers = OrderedDict()
        for i, r in enumerate(report.get("results", [])):
            table = xinhe if r["impl"] == "xinhe" else peers
            key = key_of(r) if r["impl"] == "xinhe" else (key_of(r), r["impl"])
            if key in table:
                print(f"bench-summary: warning: {path}: results[{i}] ({describe(r)}) repeats an "
                      "earlier result; only the first is used", file=sys.stderr)
                continue
            table[key] = r
            if not passed(r):
                failures += 1
                print(f"bench-summary: {path}: results[{i}] ({describe(r)}) FAILED its check: "
                      "left out of the medians", file=sys.stderr)
        for key, r in xinhe.items():
            if passed(r):
                gflops.setdefault(key, []).append(r["tflops"] * 1e3)
                if r.get("pct_of_peak") is not None:
                    peak.setdefault(key, []).append(r["pct_of_peak"])
        for (key, impl), r in peers.items():
            mine = xinhe.get(key)
            if mine is not None:
                ratios.setdefault((key, impl), []).append(
                    r["median_ms"] / mine["median_ms"] if passed(r) and passed(mine) else None)
    if not ratios:
        sys.exit("bench-summary: no xinhe/peer pairs in these files (run xinhe-bench with --compare)")

    header = ["op", "dtype", "shape", "device", "threads", "peer", "ratio per run",
              "median ratio", "xinhe GFLOP/s", "% peak"]
    rows = []
    for (key, peer), per_run in ratios.items():
        op, dtype, shape, device, threads = key
        values = [v for v in per_run if v is not None]
        pct = peak.get(key)
        rows.append([op, dtype, shape, device, "-" if threads is None else str(threads), peer,
                     " / ".join([f"{v:.2f}" for v in sorted(values)] +
                                ["FAIL"] * (len(per_run) - len(values))),
                     f"{statistics.median(values):.2f}x" if values else "-",
                     f"{statistics.median(gflops[key]):.1f}" if gflops.get(key) else "-",
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
    if failures:
        print(f"bench-summary: {failures} result(s) failed their check (FAIL above)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    # Piped into head: end quietly when the reader goes away, as cat does.
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
