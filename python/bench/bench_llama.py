"""Model-level benchmark of xinhe.torch: a small Llama-style causal LM (python/models) in
PyTorch eager on each xinhe device against PyTorch eager on the CPU. Measures the forward
(prefill) of a prompt and one decode step with a KV cache, in tokens/s (median of rounds),
and reports the share of the model's FLOPs that ran in xinhe ops and the ops that fell back.

Run through `scripts/bench.sh --python` (it makes the environment), or directly with the
environment's python: python/bench/bench_llama.py --help

PyTorch's CPU row runs in this process with the environment as given: PyTorch as its users run
it. Each xinhe device runs in a child process with OMP_WAIT_POLICY=PASSIVE, the setting
docs/frameworks.md recommends for cpu:0 (PyTorch's ops that fall back run on its OpenMP team
between xinhe's GEMMs, and a spinning team competes with xinhe's pool for the cores);
--xinhe-omp-wait-policy inherit measures them here instead, under the same environment.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

import xinhe
import xinhe.torch as xt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import tiny_llama as tl  # noqa: E402

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


def timed(fn, sync, rounds: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def bench_one(model, device, prompt, rounds, warmup):
    m = copy.deepcopy(model).to(device)
    tokens = prompt.to(device)
    if device.type == "xinhe":
        def sync():
            xt.synchronize(device)
    else:
        def sync():
            pass

    with torch.no_grad():
        def forward():
            return m(tokens)
        prefill_s = timed(forward, sync, rounds, warmup)

        caches = [[] for _ in m.blocks]
        m(tokens, caches, 0)
        sync()
        base = [list(c) for c in caches]
        step = tokens[:, -1:]

        def decode():
            c = [list(x) for x in base]
            return m(step, c, tokens.shape[1])
        decode_s = timed(decode, sync, rounds, warmup)

        share = None
        if device.type == "xinhe":
            xt.reset_stats()
            forward()
            decode()
            sync()
            share = xt.stats()
    return prefill_s, decode_s, share


def measure(model, label, dev, prompt, args) -> dict:
    prefill_s, decode_s, share = bench_one(model, dev, prompt, args.rounds, args.warmup)
    row = {"device": label, "forward_tokens_per_s": args.batch * args.prompt / prefill_s,
           "decode_tokens_per_s": args.batch / decode_s,
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}  # of the measuring process
    if share is not None:
        total = share.xinhe_flops + share.fallback_flops
        row["xinhe_flop_share"] = share.xinhe_flops / total if total else None
        row["fallback_calls"] = share.calls("fallback")
        row["xinhe_calls"] = share.calls("xinhe")
        row["fallback_ops"] = list(share.fallback_ops)
    return row


def measure_in_child(name, args) -> dict:
    """Measures one xinhe device in a child process with OMP_WAIT_POLICY=PASSIVE (libgomp reads
    it once, when it is loaded, so it cannot be changed in this process)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rows.json")
        # Later flags win, so the child gets this run's options with its own device and output;
        # --json is dropped (the child writes no report of its own).
        argv = [a for a in sys.argv[1:] if not a.startswith("--json=")]
        if "--json" in argv:
            i = argv.index("--json")
            del argv[i:i + 2]
        cmd = [sys.executable, os.path.abspath(__file__), *argv,
               "--devices", name, "--child-rows", out, "--xinhe-omp-wait-policy", "inherit"]
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        subprocess.run(cmd, env=env, check=True)
        with open(out) as f:
            return json.load(f)[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt", type=int, default=128, help="prompt length (forward) and decode context")
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=2816)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--devices", default="all", help="comma list of xinhe device names, or 'all'")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--xinhe-omp-wait-policy", choices=["passive", "inherit"], default="passive",
                   help="OMP_WAIT_POLICY of the child process that measures each xinhe device "
                        "('inherit': no child, this process's environment)")
    p.add_argument("--child-rows", help=argparse.SUPPRESS)  # internal: a child's output file
    args = p.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype]
    cfg = tl.Config(vocab=args.vocab, hidden=args.hidden, intermediate=args.intermediate,
                    layers=args.layers, heads=args.heads, kv_heads=args.kv_heads,
                    max_positions=args.prompt + 8)
    model = tl.init_weights(tl.CausalLM(cfg), seed=0).eval().to(dtype)
    prompt = torch.randint(0, cfg.vocab, (args.batch, args.prompt), generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(prompt)
    forward_flops = fc.get_total_flops()

    names = [d.name for d in xinhe.devices()] if args.devices == "all" else args.devices.split(",")
    if args.child_rows:  # a child: the named xinhe devices only, rows to the file
        rows = [measure(model, n, xt.device(n), prompt, args) for n in names]
        with open(args.child_rows, "w") as f:
            json.dump(rows, f)
        return 0
    targets = [("torch-cpu", torch.device("cpu"))] + [(n, xt.device(n)) for n in names]
    rows = []
    policy = ("OMP_WAIT_POLICY=PASSIVE (child process)" if args.xinhe_omp_wait_policy == "passive"
              else f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    print(f"model: hidden {cfg.hidden}, layers {cfg.layers}, heads {cfg.heads}/{cfg.kv_heads}, "
          f"intermediate {cfg.intermediate}, vocab {cfg.vocab}, {args.dtype}; batch {args.batch}, "
          f"prompt {args.prompt}; forward {forward_flops / 1e9:.2f} GFLOP; torch threads {torch.get_num_threads()}")
    print(f"torch-cpu: OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; xinhe devices: {policy}")
    print(f"{'device':12} {'forward tok/s':>14} {'decode tok/s':>13} {'vs CPU fwd':>10} {'vs CPU dec':>10} "
          f"{'xinhe FLOPs':>11} {'fallback calls':>14}  fell back")
    cpu = None
    for label, dev in targets:
        if label != "torch-cpu" and args.xinhe_omp_wait_policy == "passive":
            row = measure_in_child(label, args)
        else:
            row = measure(model, label, dev, prompt, args)
        fwd, dec = row["forward_tokens_per_s"], row["decode_tokens_per_s"]
        if cpu is None:
            cpu = (fwd, dec)
        row["forward_vs_cpu"] = fwd / cpu[0]
        row["decode_vs_cpu"] = dec / cpu[1]
        flop_share = calls = ""
        fell = ""
        if "xinhe_calls" in row:
            flop_share = f"{100 * row['xinhe_flop_share']:.1f}%"
            calls = f"{row['fallback_calls']}/{row['fallback_calls'] + row['xinhe_calls']}"
            fell = ", ".join(op.replace("aten::", "") for op in row["fallback_ops"])
        rows.append(row)
        print(f"{label:12} {fwd:14.1f} {dec:13.2f} {row['forward_vs_cpu']:10.2f} {row['decode_vs_cpu']:10.2f} "
              f"{flop_share:>11} {calls:>14}  {fell}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": vars(args), "forward_gflop": forward_flops / 1e9, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
