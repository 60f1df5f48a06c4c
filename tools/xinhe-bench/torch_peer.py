# xinhe-bench's PyTorch peer, run as a child process (embedded in the binary, started with
# `<python> -c <this file>`): torch.matmul and torch.nn.functional.scaled_dot_product_attention
# on the CPU, on the bench's own inputs, with the bench's thread count.
#
# Protocol: one JSON object per line on stdin, one reply per line on stdout.
#   start-up reply          {"ready": true, "torch": "2.5.1", "threads": 2}
#                           or {"ready": false, "reason": "..."} (then exits)
#   {"cmd": "case", ...}    op, dtype, shape, inputs (raw files in the dtype), output (path)
#                           -> {"ok": true, "detail": "..."} or {"ok": false, "skip": "why"}
#   {"cmd": "run"}          -> {"ms": wall milliseconds of one call}
#   {"cmd": "output"}       writes the last result to the case's output path -> {"ok": true}
#   {"cmd": "quit"}
import ctypes
import json
import os
import signal
import sys
import time

# Ctrl-C reaches this process with the bench (one process group), and the bench handles it:
# die by the signal at once, as the bench does, instead of raising KeyboardInterrupt and
# printing a traceback in the middle of its messages. (Left ignored when it was ignored.)
if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # ImportError, or a broken install raising anything
        reply({"ready": False, "reason": "cannot import torch with %s: %s" % (sys.executable, e)})
        return
    threads = int(os.environ.get("XINHE_BENCH_TORCH_THREADS", "1"))
    torch.set_num_threads(threads)
    dtypes = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
    reply({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()})

    def load(path, dtype, shape):
        t = torch.empty(shape, dtype=dtype)
        size = t.numel() * t.element_size()
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != size:
            raise ValueError("%s holds %d bytes, expected %d" % (path, len(data), size))
        ctypes.memmove(t.data_ptr(), data, size)
        return t

    state = {}
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req.get("cmd")
        try:
            if cmd == "quit":
                return
            if cmd == "case":
                state.clear()
                dt = dtypes[req["dtype"]]
                s = req["shape"]
                state["output"] = req["output"]
                if req["op"] == "gemm":
                    a_rows, a_cols = (s["k"], s["m"]) if s["trans_a"] else (s["m"], s["k"])
                    b_rows, b_cols = (s["n"], s["k"]) if s["trans_b"] else (s["k"], s["n"])
                    a = load(req["inputs"][0], dt, (s["batch"], a_rows, a_cols))
                    b = load(req["inputs"][1], dt, (s["batch"], b_rows, b_cols))
                    if s["trans_a"]:
                        a = a.transpose(1, 2)
                    if s["trans_b"]:
                        b = b.transpose(1, 2)
                    if s["batch"] == 1:
                        a, b = a[0], b[0]
                    c = torch.empty(a.shape[:-1] + (b.shape[-1],), dtype=dt)
                    state["run"] = lambda: torch.matmul(a, b, out=c)
                    state["result"] = lambda: c
                    reply({"ok": True, "detail": "torch %s matmul" % torch.__version__})
                else:
                    if s["causal"] and s["sq"] != s["skv"]:
                        reply({"ok": False, "skip": "PyTorch's is_causal is top-left aligned; "
                               "xinhe's causal mask is bottom-right (they agree only for Sq = Skv)"})
                        continue
                    q = load(req["inputs"][0], dt, (s["b"], s["hq"], s["sq"], s["d"]))
                    k = load(req["inputs"][1], dt, (s["b"], s["hkv"], s["skv"], s["d"]))
                    v = load(req["inputs"][2], dt, (s["b"], s["hkv"], s["skv"], s["d"]))
                    extra = {}
                    if s["hq"] != s["hkv"]:
                        extra["enable_gqa"] = True  # PyTorch >= 2.5; older ones raise TypeError
                    out = {}

                    def run_sdpa():
                        out["o"] = F.scaled_dot_product_attention(q, k, v, is_causal=s["causal"], **extra)

                    run_sdpa()  # raises here, not in a timed run, when unsupported
                    state["run"] = run_sdpa
                    state["result"] = lambda: out["o"]
                    reply({"ok": True, "detail": "torch %s scaled_dot_product_attention" % torch.__version__})
            elif cmd == "run":
                t0 = time.perf_counter()
                state["run"]()
                reply({"ms": (time.perf_counter() - t0) * 1e3})
            elif cmd == "output":
                r = state["result"]().contiguous()
                with open(state["output"], "wb") as f:
                    f.write(ctypes.string_at(r.data_ptr(), r.numel() * r.element_size()))
                reply({"ok": True})
            else:
                reply({"ok": False, "error": "unknown command %r" % cmd})
        except Exception as e:
            if cmd == "case":
                reply({"ok": False, "skip": "PyTorch cannot run it: %s: %s" % (type(e).__name__, e)})
            else:
                reply({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})


main()
