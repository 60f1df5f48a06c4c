"""Real models on the xinhe device: a Llama-style decoder block and a small causal LM (plain
PyTorch, seeded random weights, python/models/tiny_llama.py) in f32 and bf16 on every xinhe
device, against the same model on PyTorch's CPU in the same dtype (targets: relative error
<= 1e-5 in f32, <= 2e-2 in bf16) and against float64; greedy generation of 32 tokens with a
KV cache gives the CPU's tokens in f32. Strict mode ("routed") proves that every mm, addmm,
bmm and SDPA call ran in xinhe; the report (printed, and written to XINHE_MODEL_REPORT when
set) gives the share of the model's FLOPs that ran in xinhe ops and the ops that fell back."""

from __future__ import annotations

import copy
import json
import os
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import xinhe
import xinhe.torch as xt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "models"))
import tiny_llama as tl  # noqa: E402

DEVICES = [d.name for d in xinhe.devices()]
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 2e-2}
REPORT: dict = {}


def rel_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    out, ref = out.detach().double().cpu(), ref.detach().double().cpu()
    return ((out - ref).norm() / ref.norm()).item()


def model_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def run_on(name: str, fn):
    """Runs fn under routed strict mode with fresh counters; returns (result, stats)."""
    xt.reset_stats()
    with xt.strict("routed"):
        result = fn()
    xt.synchronize()
    return result, xt.stats()


def record(key: str, device: str, dtype, err_same: float, err_f64: float, ref_f64_err: float,
           stats: xt.Stats, flops: int) -> None:
    entry = {
        "rel_error_vs_cpu_same_dtype": err_same,
        "rel_error_vs_f64": err_f64,
        "cpu_rel_error_vs_f64": ref_f64_err,
        "xinhe_flop_share": stats.xinhe_flops / flops if flops else None,
        "fallback_ops": stats.fallback_ops,
        "xinhe_ops": stats.xinhe_ops,
    }
    REPORT.setdefault(key, {}).setdefault(device, {})[str(dtype).replace("torch.", "")] = entry
    print(f"\n{key} {device} {dtype}: rel err vs CPU {err_same:.2e}, vs f64 {err_f64:.2e} "
          f"(CPU vs f64 {ref_f64_err:.2e}); xinhe FLOP share {entry['xinhe_flop_share']:.4f}; "
          f"fell back: {', '.join(stats.fallback_ops)}")


def assert_routed_ran_in_xinhe(stats: xt.Stats, expect_addmm: bool = True) -> None:
    routed = ["aten::mm", "aten::_scaled_dot_product_fused_attention_overrideable"]
    if expect_addmm:
        routed.append("aten::addmm")
    for op in routed:
        assert op in stats.ops and stats.ops[op].xinhe > 0, f"{op} never ran in xinhe: {stats.table()}"
    for op in ("aten::mm", "aten::addmm", "aten::bmm", "aten::scaled_dot_product_attention"):
        assert op not in stats.ops or stats.ops[op].fallback == 0, stats.table()


@pytest.fixture(scope="module", autouse=True)
def write_report():
    yield
    path = os.environ.get("XINHE_MODEL_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(REPORT, f, indent=2, sort_keys=True)


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_decoder_block(name, dtype):
    cfg = tl.Config()
    block = tl.init_weights(tl.DecoderBlock(cfg), seed=1).eval()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 48, cfg.hidden, generator=g)
    cos, sin = tl.rope_tables(cfg)
    with torch.no_grad():
        ref64 = copy.deepcopy(block).double()(x.double(), cos.double(), sin.double())
        ref = copy.deepcopy(block).to(dtype)(x.to(dtype), cos.to(dtype), sin.to(dtype))
        d = xt.device(name)
        dev_block = copy.deepcopy(block).to(dtype).to(d)
        dx, dcos, dsin = x.to(dtype).to(d), cos.to(dtype).to(d), sin.to(dtype).to(d)
        out, stats = run_on(name, lambda: dev_block(dx, dcos, dsin))
        flops = model_flops(lambda: block.to(dtype)(x.to(dtype), cos.to(dtype), sin.to(dtype)))
    err = rel_error(out, ref)
    record("decoder_block", name, dtype, err, rel_error(out, ref64), rel_error(ref, ref64), stats, flops)
    assert_routed_ran_in_xinhe(stats)
    assert err <= TOLERANCE[dtype], f"relative error {err} vs PyTorch CPU {dtype}"


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_causal_lm_forward(name, dtype):
    cfg = tl.Config()
    model = tl.init_weights(tl.CausalLM(cfg), seed=3).eval()
    tokens = torch.randint(0, cfg.vocab, (2, 40), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref64 = copy.deepcopy(model).double()(tokens)
        ref = copy.deepcopy(model).to(dtype)(tokens)
        dev_model = copy.deepcopy(model).to(dtype).to(xt.device(name))
        dtokens = tokens.to(xt.device(name))
        out, stats = run_on(name, lambda: dev_model(dtokens))
        flops = model_flops(lambda: copy.deepcopy(model).to(dtype)(tokens))
    err = rel_error(out, ref)
    record("causal_lm_forward", name, dtype, err, rel_error(out, ref64), rel_error(ref, ref64), stats, flops)
    assert_routed_ran_in_xinhe(stats)
    assert err <= TOLERANCE[dtype], f"relative error {err} vs PyTorch CPU {dtype}"


@pytest.mark.parametrize("name", DEVICES)
def test_greedy_generation_matches_cpu(name):
    cfg = tl.Config()
    model = tl.init_weights(tl.CausalLM(cfg), seed=5).eval()
    prompt = torch.randint(0, cfg.vocab, (1, 12), generator=torch.Generator().manual_seed(6))
    expected = model.generate(prompt, 32)
    dev_model = copy.deepcopy(model).to(xt.device(name))
    got, stats = run_on(name, lambda: dev_model.generate(prompt.to(xt.device(name)), 32))
    flops = model_flops(lambda: model.generate(prompt, 32))
    record("greedy_generation_32", name, torch.float32, 0.0, 0.0, 0.0, stats, flops)
    assert_routed_ran_in_xinhe(stats)
    assert got.cpu().tolist() == expected.tolist()
    assert len(set(expected[0].tolist())) > 4, "degenerate generation proves little"
