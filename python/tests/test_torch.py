"""xinhe.torch: the "xinhe" PyTorch device on every xinhe device. Device naming and order,
copies both ways in every layout, views, fill/zero, mm/addmm/bmm/matmul/linear and SDPA on
xinhe's kernels (checked against float64 on the CPU, and by the counters that they ran in
xinhe), streams and events, the CPU fallback with its counters and strict mode."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import xinhe
import xinhe.torch as xt

DEVICES = [d.name for d in xinhe.devices()]


def tdev(name: str) -> torch.device:
    return xt.device(name)


def test_device_naming_follows_registry_order():
    assert torch._C._get_privateuse1_backend_name() == "xinhe"
    assert torch.xinhe.device_count() == len(xinhe.devices())
    for i, d in enumerate(xinhe.devices()):
        assert xt.device(d.name) == torch.device("xinhe", i)
        assert xt.xinhe_device(torch.device("xinhe", i)) == d
    assert xt.devices() == [torch.device("xinhe", i) for i in range(len(DEVICES))]
    x = torch.zeros(3, device=xt.device("opencl:0"))
    assert x.is_xinhe and x.device.index == DEVICES.index("opencl:0")
    # The device guard's current device decides where "xinhe" without an index allocates.
    torch.xinhe.set_device(1)
    try:
        assert torch.xinhe.current_device() == 1
        assert torch.empty(2, device="xinhe").device == torch.device("xinhe", 1)
    finally:
        torch.xinhe.set_device(0)
    assert torch.empty(2, device="xinhe").device == torch.device("xinhe", 0)


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.int64])
def test_copies_views_and_fill(name, dtype):
    g = torch.Generator().manual_seed(3)
    cpu = (torch.randn(6, 10, generator=g) * 100).to(dtype)
    x = cpu.to(tdev(name))
    assert x.device == tdev(name)
    torch.testing.assert_close(x.cpu(), cpu, rtol=0, atol=0)
    # Views: transpose, slices, as_strided, and copies out of / into them.
    torch.testing.assert_close(x.t().cpu(), cpu.t(), rtol=0, atol=0)
    torch.testing.assert_close(x[1:5, ::3].cpu(), cpu[1:5, ::3], rtol=0, atol=0)
    torch.testing.assert_close(x.as_strided((3, 4), (7, 2), 5).cpu(), cpu.as_strided((3, 4), (7, 2), 5),
                               rtol=0, atol=0)
    y = x.clone()
    y[2:4, 1::2] = cpu[:2, :5]  # strided device destination, CPU source
    ref = cpu.clone()
    ref[2:4, 1::2] = cpu[:2, :5]
    torch.testing.assert_close(y.cpu(), ref, rtol=0, atol=0)
    torch.testing.assert_close(x.cpu(), cpu, rtol=0, atol=0)  # clone left x alone
    # Device-to-device with a dtype change.
    torch.testing.assert_close(x.to(torch.float64).cpu(), cpu.to(torch.float64), rtol=0, atol=0)
    # fill_ / zero_, dense and strided, keep everything else.
    z = x.clone()
    z.fill_(7)
    assert (z.cpu() == 7).all()
    z.zero_()
    assert (z.cpu() == 0).all()
    w = x.clone()
    w[:, 2].fill_(5)
    ref = cpu.clone()
    ref[:, 2] = 5
    torch.testing.assert_close(w.cpu(), ref, rtol=0, atol=0)
    # empty / empty_strided
    e = torch.empty_strided((2, 3), (1, 2), device=tdev(name), dtype=dtype)
    assert e.stride() == (1, 2) and e.device == tdev(name)
    assert x[0, 0].item() == cpu[0, 0].item()


def _check(out, ref64, tol):
    err = (out.double().cpu() - ref64).abs().max().item()
    scale = ref64.abs().max().item() + 1
    assert err <= tol * scale, f"max error {err} vs scale {scale}"


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.bfloat16, 2e-2)])
def test_gemm_ops_run_in_xinhe(name, dtype, tol):
    g = torch.Generator().manual_seed(4)
    a = torch.randn(33, 47, generator=g).to(dtype)
    b = torch.randn(47, 21, generator=g).to(dtype)
    bias = torch.randn(21, generator=g).to(dtype)
    ba = torch.randn(3, 33, 47, generator=g).to(dtype)
    bb = torch.randn(3, 47, 21, generator=g).to(dtype)
    d = tdev(name)
    xa, xb, xbias, xba, xbb = (t.to(d) for t in (a, b, bias, ba, bb))
    A, B, BIAS, BA, BB = (t.double() for t in (a, b, bias, ba, bb))
    xt.reset_stats()
    with xt.strict("routed"):
        _check(xa @ xb, A @ B, tol)
        _check(xa @ xb.t().contiguous().t(), A @ B, tol)  # transposed operand
        _check(xa.t().contiguous().t() @ xb, A @ B, tol)
        _check(torch.addmm(xbias, xa, xb), BIAS + A @ B, tol)
        _check(torch.addmm(xbias, xa, xb, beta=0.5, alpha=2.0), 0.5 * BIAS + 2 * (A @ B), tol)
        _check(torch.bmm(xba, xbb), BA @ BB, tol)
        _check(torch.matmul(xba, xb), BA @ B, tol)  # folds to mm
        w = torch.randn(21, 47, generator=g).to(dtype)
        _check(F.linear(xa, w.to(d), xbias), A @ w.double().t() + BIAS, tol)
        _check(F.linear(xba, w.to(d)), BA @ w.double().t(), tol)
    s = xt.stats()
    assert s.ops["aten::mm"].xinhe >= 3 and s.ops["aten::mm"].fallback == 0
    assert s.ops["aten::addmm"].xinhe >= 3 and s.ops["aten::bmm"].xinhe == 1
    assert s.xinhe_flops > 0


def _ref_sdpa(q, k, v, causal):
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, 1)
    v = v.repeat_interleave(group, 1)
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if causal:
        sq, skv = s.shape[-2:]
        s = s.masked_fill(torch.ones(sq, skv, dtype=torch.bool).tril(skv - sq).logical_not(), float("-inf"))
    return s.softmax(-1) @ v


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-5), (torch.bfloat16, 2e-2)])
@pytest.mark.parametrize("sq,skv,causal", [(17, 17, True), (1, 23, False), (9, 31, False)])
def test_sdpa_routes_to_xinhe_attention(name, dtype, tol, sq, skv, causal):
    g = torch.Generator().manual_seed(sq * 100 + skv)
    q = torch.randn(2, 8, sq, 32, generator=g).to(dtype)
    k = torch.randn(2, 2, skv, 32, generator=g).to(dtype)
    v = torch.randn(2, 2, skv, 32, generator=g).to(dtype)
    d = tdev(name)
    xt.reset_stats()
    with xt.strict("routed"):
        out = F.scaled_dot_product_attention(q.to(d), k.to(d), v.to(d), is_causal=causal, enable_gqa=True)
    _check(out, _ref_sdpa(q.double(), k.double(), v.double(), causal), tol)
    assert xt.stats().ops["aten::_scaled_dot_product_fused_attention_overrideable"].xinhe == 1


def test_sdpa_with_mask_takes_the_math_path_and_strict_catches_it():
    d = tdev("cpu:0")
    q = torch.randn(1, 2, 5, 8, device=d)
    mask = torch.ones(5, 5, dtype=torch.bool, device=d).tril()
    xt.reset_stats()
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=mask)
    ref = F.scaled_dot_product_attention(q.cpu(), q.cpu(), q.cpu(), attn_mask=mask.cpu())
    torch.testing.assert_close(out.cpu(), ref, rtol=1e-5, atol=1e-5)
    assert xt.stats().ops["aten::scaled_dot_product_attention"].fallback == 1
    with pytest.raises(RuntimeError, match="strict mode"):
        with xt.strict("routed"):
            F.scaled_dot_product_attention(q, q, q, attn_mask=mask)


@pytest.mark.parametrize("name", DEVICES)
def test_fallback_is_counted_logged_and_strict(name):
    d = tdev(name)
    x = torch.randn(4, 5).to(d)
    xt.reset_stats()
    y = torch.nn.functional.silu(x) + 1
    torch.testing.assert_close(y.cpu(), torch.nn.functional.silu(x.cpu()) + 1)
    s = xt.stats()
    assert "aten::silu" in s.fallback_ops and s.ops["aten::silu"].fallback == 1
    with pytest.raises(RuntimeError, match="strict mode \\(all\\): aten::silu fell back"):
        with xt.strict("all"):
            torch.nn.functional.silu(x)
    with xt.strict("routed"):  # routed strictness lets elementwise fallbacks through
        torch.nn.functional.silu(x)


def test_verbose_dispatch_names_ops(tmp_path):
    import subprocess
    import sys
    code = ("import torch, xinhe.torch as xt\n"
            "x = torch.randn(8, 8).to(xt.device('cpu:0'))\n"
            "(x @ x).relu().cpu()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**__import__("os").environ, "XINHE_VERBOSE": "dispatch"}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "xinhe[dispatch] torch: aten::mm ran on xinhe" in r.stderr
    assert "xinhe[dispatch] torch: aten::relu ran on the CPU (fallback)" in r.stderr


@pytest.mark.parametrize("name", DEVICES)
def test_streams_and_events(name):
    d = tdev(name)
    s = torch.Stream(device=d)
    e0, e1 = torch.Event(device=d, enable_timing=True), torch.Event(device=d, enable_timing=True)
    a = torch.randn(64, 64).to(d)
    with s:
        assert torch.accelerator.current_stream(d) == s if hasattr(torch, "accelerator") else True
        e0.record(s)
        b = a @ a
        e1.record(s)
    e1.synchronize()
    assert e1.query()
    s.synchronize()
    assert s.query()
    assert e0.elapsed_time(e1) >= 0.0
    torch.testing.assert_close(b.cpu(), a.cpu() @ a.cpu(), rtol=1e-5, atol=1e-4)
    torch.xinhe.synchronize()


def test_fallback_runs_in_place_on_host_memory():
    # cpu:0 memory is host memory: the CPU kernel works on it directly, with no copies.
    d = tdev("cpu:0")
    cpu = torch.randn(4, 6)
    x = cpu.to(d)
    pointer = x.data_ptr()
    y = x.add_(1)  # in-place fallback: the same tensor, the same memory
    assert y is x and x.data_ptr() == pointer
    z = torch.exp(x)  # a fresh result is adopted as a xinhe tensor
    assert z.device == d and z.data_ptr() != pointer
    torch.testing.assert_close(z.cpu(), torch.exp(cpu + 1))
    # a result that aliases its input stays a view of the xinhe memory
    parts = torch.chunk(x, 2, dim=1)
    assert all(p.device == d for p in parts)
    torch.testing.assert_close(torch.cat(parts, dim=1).cpu(), cpu + 1)
    w = x.clone()
    w.mul_(torch.tensor(2.0))  # a CPU scalar tensor argument
    torch.testing.assert_close(w.cpu(), 2 * (cpu + 1))


def test_fallback_writes_out_arguments_in_place(tmp_path):
    # PyTorch reaches structured ops (mul, add, pow...) through their .out overloads; on host
    # memory the out= tensor is written in place. One it must grow or empty takes the copying
    # path; one it shrinks takes the kernel's shape. Values checked against the CPU each time.
    import subprocess
    import sys
    code = (
        "import torch, xinhe.torch as xt\n"
        "d = xt.device('cpu:0')\n"
        "a, b = torch.randn(4, 6), torch.randn(4, 6)\n"
        "x, y = a.to(d), b.to(d)\n"
        "z = x * y\n"  # mul.Tensor -> mul.out on an output PyTorch allocated
        "torch.testing.assert_close(z.cpu(), a * b)\n"
        "o = torch.empty(4, 6, device=d); p = o.data_ptr()\n"
        "r = torch.add(x, y, out=o)\n"
        "assert r is o and o.data_ptr() == p\n"
        "torch.testing.assert_close(o.cpu(), a + b)\n"
        "small = torch.empty(3, device=d)\n"  # must grow: copied through the CPU
        "torch.add(x, y, out=small)\n"
        "assert small.shape == (4, 6)\n"
        "torch.testing.assert_close(small.cpu(), a + b)\n"
        "big = torch.empty(40, device=d)\n"  # shrinks within its storage
        "import warnings\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    torch.mul(x, y, out=big)\n"
        "assert big.shape == (4, 6)\n"
        "torch.testing.assert_close(big.cpu(), a * b)\n"
        "empty = torch.empty(0, device=d)\n"
        "torch.sub(x, y, out=empty)\n"
        "torch.testing.assert_close(empty.cpu(), a - b)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**__import__("os").environ, "XINHE_VERBOSE": "dispatch"}, timeout=120)
    assert r.returncode == 0, r.stderr
    log = r.stderr
    assert "aten::mul ran on the CPU (fallback): aten::mul.out, in place on host memory" in log
    assert "aten::add ran on the CPU (fallback): aten::add.out, in place on host memory" in log
    assert "aten::sub ran on the CPU (fallback): aten::sub.out, copied through the CPU" in log


# In-place ops on views whose fallback copies through the CPU and writes back with
# _copy_from_and_resize: the write-back must go to the view's elements (resize_ to the same
# sizes leaves strides alone, as on the CPU).
_STRIDED_INPLACE = """
import torch, xinhe.torch as xt
def iadd_col(t):
    t[:, 0] += 1
cases = [("x[:, 0].add_(1)", lambda t: t[:, 0].add_(1)), ("x[:, 0] += 1", iadd_col),
         ("add(out=x[:, 1])", lambda t: torch.add(torch.ones(3, device=t.device), 1, out=t[:, 1])),
         ("x.t().mul_(2)", lambda t: t.t().mul_(2)),
         ("x[:, 1:3].clamp_(min=5.5)", lambda t: t[:, 1:3].clamp_(min=5.5)),
         ("x.t()[0].sub_(3)", lambda t: t.t()[0].sub_(3)),
         ("x[::2].add_(100)", lambda t: t[::2].add_(100))]
def run(name):
    d = xt.device(name)
    wrong = []
    for label, fn in cases:
        base = torch.arange(12.0).reshape(3, 4)
        xd, ref = base.to(d), base.clone()
        fn(xd)
        fn(ref)
        if not torch.equal(xd.cpu(), ref):
            wrong.append(f"{label}: got {xd.cpu().tolist()}, expected {ref.tolist()}")
    col = torch.zeros(3, 4, device=d)[:, 0]
    col.add_(1)
    if col.stride() != (4,):
        wrong.append(f"the view's strides changed to {col.stride()}")
    return wrong
"""


def test_inplace_on_strided_views_opencl():
    # opencl:0 memory is not host-addressable: its fallback always copies.
    if "opencl:0" not in DEVICES:
        pytest.skip("no opencl:0 (PoCL) here")
    scope: dict = {}
    exec(_STRIDED_INPLACE, scope)
    assert scope["run"]("opencl:0") == []


def test_inplace_on_strided_views_cpu_copying_fallback():
    # cpu:0 runs the fallback in place unless XINHE_TORCH_COPY_FALLBACK=1 (read at load time).
    import os
    import subprocess
    import sys
    code = _STRIDED_INPLACE + "wrong = run('cpu:0')\nassert not wrong, wrong\nprint('ok')\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "XINHE_TORCH_COPY_FALLBACK": "1"}, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]


@pytest.mark.parametrize("name", DEVICES)
def test_resize_follows_the_cpu_semantics(name):
    d = tdev(name)
    x = torch.arange(12.0).reshape(3, 4).to(d)
    t = x.t()
    assert t.resize_(4, 3) is t and t.stride() == (1, 4)  # same sizes: untouched
    torch.testing.assert_close(t.cpu(), torch.arange(12.0).reshape(3, 4).t())
    y = torch.zeros(2, 3, 4, 5, device=d)
    y.resize_(2, 3, 4, 5, memory_format=torch.channels_last)  # restrides like the CPU
    assert y.stride() == torch.zeros(2, 3, 4, 5).resize_(2, 3, 4, 5, memory_format=torch.channels_last).stride()
    with pytest.raises(RuntimeError, match="Unsupported memory format"):
        y.resize_(2, 3, 4, 5, memory_format=torch.preserve_format)
    z = torch.arange(4.0).to(d)
    z.resize_(2, 3)  # grows, keeps the old elements
    assert z.shape == (2, 3) and z.untyped_storage().nbytes() >= 24
    torch.testing.assert_close(z.cpu().flatten()[:4], torch.arange(4.0))
    # A byte count that overflows int64 raises (it used to wrap to 4 bytes over 16).
    w = torch.zeros(4, device=d)
    for bad in ([2**62 + 1], [2**32, 2**32], [2**61, 2]):
        with pytest.raises(RuntimeError, match="overflow"):
            w.resize_(*bad)
        assert w.shape == (4,) and w.untyped_storage().nbytes() == 16
    with pytest.raises(RuntimeError, match="negative"):
        w.resize_(-1)


def test_stream_pool_is_bounded():
    # torch.Stream draws from a fixed per-device pool (round-robin, like CUDA's), so creating
    # many neither leaks xinhe streams nor (on cpu:0) their worker threads.
    def threads():
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("Threads")).split()[1])
    for name in DEVICES:
        d = tdev(name)
        ids = {torch.Stream(device=d).stream_id for _ in range(40)}
        assert 1 <= len(ids) <= 8, ids
        assert 0 not in ids  # never the default stream
    before = threads()
    for _ in range(100):
        s = torch.Stream(device=tdev("cpu:0"))
    assert threads() - before <= 8
    # A pooled stream still works.
    a = torch.randn(16, 16).to(tdev("cpu:0"))
    with s:
        b = a @ a
    s.synchronize()
    torch.testing.assert_close(b.cpu(), a.cpu() @ a.cpu(), rtol=1e-5, atol=1e-4)


def test_out_of_range_device_index_names_the_count():
    n = len(DEVICES)
    with pytest.raises(IndexError, match=f"{n} xinhe devices"):
        xt.xinhe_device(n + 3)
    with pytest.raises(IndexError, match=f"{n} xinhe devices"):
        xt.synchronize(f"xinhe:{n + 3}")
    assert xt.xinhe_device(n - 1).index == n - 1


def test_ops_refuse_operands_on_two_devices():
    # PyTorch raises for operands on two devices; mm(xinhe:0, xinhe:1) used to compute anyway.
    a = torch.randn(4, 4)
    pairs = [(a.to("xinhe:0"), a)]
    if len(DEVICES) > 1:
        pairs += [(a.to("xinhe:0"), a.to("xinhe:1")), (a.to("xinhe:1"), a)]
    for x, y in pairs:
        for op in (lambda: torch.mm(x, y), lambda: torch.mm(y, x),
                   lambda: torch.bmm(x[None], y[None]),
                   lambda: torch.addmm(x, x, y), lambda: torch.addmm(y, x, x)):
            with pytest.raises(RuntimeError, match="same device"):
                op()
    # A 0-dim CPU tensor is a scalar and goes with any device, as in PyTorch.
    x = a.to("xinhe:0")
    got = torch.addmm(torch.tensor(0.5), x, x).cpu()
    want = torch.addmm(torch.tensor(0.5, dtype=torch.float64), a.double(), a.double()).float()
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", DEVICES)
def test_complex128_fill_and_zeros(name):
    # 16-byte elements have no device fill pattern: they are filled on the host (the pattern was
    # copied into an 8-byte integer, past its end).
    dev = xt.device(name)
    z = torch.zeros(5, dtype=torch.complex128, device=dev)
    assert torch.equal(z.cpu(), torch.zeros(5, dtype=torch.complex128))
    f = torch.full((3, 2), 1.5 - 2.25j, dtype=torch.complex128, device=dev)
    assert torch.equal(f.cpu(), torch.full((3, 2), 1.5 - 2.25j, dtype=torch.complex128))


@pytest.mark.parametrize("name", DEVICES)
def test_save_and_load_a_state_dict_on_the_device(name, tmp_path):
    torch.manual_seed(3)
    dev = xt.device(name)
    model = torch.nn.Linear(8, 4).to(dev)
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    loaded = torch.load(path)  # back onto the device it was saved from (torch.xinhe.device)
    for key, value in model.state_dict().items():
        assert loaded[key].device == dev
        assert torch.equal(loaded[key].cpu(), value.cpu())
    with torch.xinhe.device(dev):
        assert torch.xinhe.current_device() == dev.index


@pytest.mark.parametrize("name", DEVICES)
def test_sdpa_with_grad_takes_the_math_path_and_backward_works(name):
    # xinhe has no attention backward: with inputs that require grad SDPA decomposes (bmm and
    # softmax, each with a backward) instead of reaching the routed kernel, whose backward raised.
    torch.manual_seed(7)
    dev = xt.device(name)
    q, k, v = (torch.randn(1, 2, 5, 8, dtype=torch.float64) for _ in range(3))
    qf, kf, vf = (t.float().to(dev).requires_grad_() for t in (q, k, v))
    out = F.scaled_dot_product_attention(qf, kf, vf, is_causal=True)
    weights = torch.randn(out.shape)
    (out * weights.to(dev)).sum().backward()
    qd, kd, vd = (t.clone().requires_grad_() for t in (q, k, v))
    ref = F.scaled_dot_product_attention(qd, kd, vd, is_causal=True)
    (ref * weights.double()).sum().backward()
    torch.testing.assert_close(out.detach().cpu().double(), ref.detach(), rtol=1e-4, atol=1e-5)
    for got, want in ((qf, qd), (kf, kd), (vf, vd)):
        torch.testing.assert_close(got.grad.cpu().double(), want.grad, rtol=1e-4, atol=1e-5)
    with torch.no_grad():  # without grad the routed kernel still runs
        torch.testing.assert_close(
            F.scaled_dot_product_attention(qf, kf, vf, is_causal=True).cpu().double(),
            ref.detach(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", DEVICES)
def test_gradients_through_mm_and_linear_match_float64(name):
    # mm/addmm have no backward of their own: autograd's formulas call mm again on the device.
    torch.manual_seed(11)
    dev = xt.device(name)
    a, b = torch.randn(5, 7, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    lin = torch.nn.Linear(3, 4).double()
    lin_dev = torch.nn.Linear(3, 4)
    lin_dev.load_state_dict({k: v.float() for k, v in lin.state_dict().items()})
    lin_dev = lin_dev.to(dev)
    af, bf = (t.float().to(dev).requires_grad_() for t in (a, b))
    weights = torch.randn(5, 4, dtype=torch.float64)
    (lin_dev(torch.relu(af @ bf)) * weights.float().to(dev)).sum().backward()
    ad, bd = (t.clone().requires_grad_() for t in (a, b))
    (lin(torch.relu(ad @ bd)) * weights).sum().backward()
    for got, want in ((af.grad, ad.grad), (bf.grad, bd.grad),
                      (lin_dev.weight.grad, lin.weight.grad), (lin_dev.bias.grad, lin.bias.grad)):
        assert got.device == dev
        torch.testing.assert_close(got.cpu().double(), want, rtol=1e-4, atol=1e-5)


def _backend_view_ops():
    # aten ops that return a view of their first argument and have a CPU kernel but no
    # composite one: each needs a PrivateUse1 kernel, since the CPU fallback cannot alias.
    found = []
    for schema in torch._C._jit_get_all_schemas():
        if not schema.name.startswith("aten::") or not schema.returns or not schema.arguments:
            continue
        first, out = schema.arguments[0].alias_info, schema.returns[0].alias_info
        if first is None or out is None or first.is_write or out.is_write:
            continue
        name = schema.name + ("." + schema.overload_name if schema.overload_name else "")

        def has(key):
            try:
                return torch._C._dispatch_has_kernel_for_dispatch_key(name, key)
            except RuntimeError:  # a schema without a registered operator
                return False

        if any(has(k) for k in ("CompositeImplicitAutograd", "CompositeExplicitAutograd",
                                "CompositeExplicitAutogradNonFunctional")):
            continue
        if has("CPU") and "nested" not in name:
            found.append((name, has("PrivateUse1")))
    return found


def test_every_backend_view_op_has_a_device_kernel():
    ops = _backend_view_ops()
    assert len(ops) >= 5, ops  # view, as_strided, _reshape_alias, unfold, view_as_real...
    assert [name for name, registered in ops if not registered] == []


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("make_view", [
    lambda t: t.unfold(1, 2, 2),
    lambda t: torch.view_as_complex(t.reshape(6, 4, 2)),
    lambda t: torch.view_as_real(torch.view_as_complex(t.reshape(6, 4, 2))),
    lambda t: t.view(torch.int32),
    lambda t: t.t().diagonal(),
    lambda t: t[1:, ::2],
], ids=["unfold", "view_as_complex", "view_as_real", "view_dtype", "diagonal", "slice"])
def test_writes_through_views_reach_the_base(name, make_view):
    # A view that the CPU fallback had quietly copied lost these writes.
    torch.manual_seed(5)
    base = torch.randn(6, 8)
    x = base.to(xt.device(name))
    view = make_view(x)
    assert view.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    expected = base.clone()
    make_view(expected).fill_(3)
    view.fill_(3)
    assert torch.equal(x.cpu(), expected)


def test_xinhe_device_without_an_index_is_the_current_device():
    last = len(DEVICES) - 1
    with torch.xinhe.device(last):
        assert xt.xinhe_device("xinhe").name == DEVICES[last]
        assert torch.empty(1, device="xinhe").device.index == last
    assert xt.xinhe_device("xinhe").name == DEVICES[torch.xinhe.current_device()]


def test_strict_blocks_interleaving_across_threads_restore_correctly():
    import threading
    x = torch.rand(4, 4, device=tdev("opencl:0"))
    b1, b2, b3 = threading.Barrier(2), threading.Barrier(2), threading.Barrier(2)
    seen = {}

    def first():
        with xt.strict("all"):
            b1.wait()  # the second enters while the first is inside
            b2.wait()
        b3.wait()  # the first leaves first

    def second():
        b1.wait()
        with xt.strict("routed"):
            b2.wait()
            b3.wait()
            try:  # the first block has gone: "routed" is left, which lets relu through
                x.relu()
                seen["relu"] = "ran"
            except RuntimeError as e:
                seen["relu"] = str(e)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["relu"] == "ran"
    x.relu()  # both blocks have exited: strict mode is off again
    # Process-wide on purpose (autograd runs backward ops on its own threads): a block in this
    # thread makes a fallback in another raise. Nested blocks: the one entered last applies, so
    # strict("off") inside strict("all") lets a known fallback through until it exits.
    res = []

    def other():
        try:
            x.relu()
            res.append("ran")
        except RuntimeError as e:
            res.append(str(e))

    with xt.strict("all"):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        with xt.strict("off"):
            x.relu()
        with pytest.raises(RuntimeError, match=r"strict mode \(all\)"):
            x.relu()
    assert "strict mode (all)" in res[0]
    x.relu()


def test_strict_mode_survives_many_threads_entering_and_leaving():
    import threading
    x = torch.rand(4, device=tdev("cpu:0"))

    def worker(mode):
        for _ in range(200):
            with xt.strict(mode):
                pass

    threads = [threading.Thread(target=worker, args=(m,)) for m in ("all", "routed") * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    x.relu()  # nothing left switched on


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_non_blocking_copy_to_cpu(name, dtype):
    g = torch.Generator().manual_seed(21)
    cpu = (torch.randn(64, 33, generator=g) + 0.5).to(dtype)
    x = cpu.to(tdev(name))
    y = x * 2  # queued work the copy must see
    out = y.to("cpu", non_blocking=True)
    torch.xinhe.synchronize()
    assert out.device.type == "cpu"
    torch.testing.assert_close(out.double(), (cpu.double() * 2), rtol=0, atol=0)
    out_t = x.t().to("cpu", non_blocking=True)  # a strided source
    torch.xinhe.synchronize()
    torch.testing.assert_close(out_t, cpu.t(), rtol=0, atol=0)


# ---- Audit fixes: storage resize on a non-current device, copies between overlapping views ------

def _non_current_device() -> torch.device:
    """A xinhe device other than the current one (opencl:0 here), or a skip."""
    if "opencl:0" in DEVICES and DEVICES.index("opencl:0") != torch.xinhe.current_device():
        return tdev("opencl:0")
    others = [i for i in range(len(DEVICES)) if i != torch.xinhe.current_device()]
    if not others:
        pytest.skip("needs a second xinhe device besides the current one (opencl:0 here)")
    return torch.device("xinhe", others[0])


def test_untyped_storage_resize_stays_on_its_device():
    # UntypedStorage.resize_ allocated on the current device (xinhe:0): a storage on xinhe:1
    # moved there, or growing it failed ("xinhe copy_data across devices").
    d = _non_current_device()
    g = torch.Generator().manual_seed(31)
    values = torch.randn(8, generator=g) + 2.0
    s = values.to(d).untyped_storage()
    s.resize_(0)
    assert s.device == d and s.nbytes() == 0
    s.resize_(64)
    assert s.device == d and s.nbytes() == 64
    t = torch.empty(0, device=d)
    t.set_(s, 0, (16,), (1,))
    t.copy_(values.repeat(2))
    torch.testing.assert_close(t.cpu(), values.repeat(2), rtol=0, atol=0)
    x = values.to(d)
    grown = x.untyped_storage()
    grown.resize_(96)  # grows in place, keeping the old bytes
    assert grown.device == d and grown.nbytes() == 96
    torch.testing.assert_close(torch.empty(0, device=d).set_(grown, 0, (8,), (1,)).cpu(), values,
                               rtol=0, atol=0)
    e = torch.empty(0, device=d).untyped_storage()
    e.resize_(16)
    assert e.device == d


@pytest.mark.parametrize("name", DEVICES)
def test_copy_between_overlapping_views_raises_as_on_the_cpu(name):
    # x.copy_(x.t()) and x[1:].copy_(x[:-1]) ran silently: cpu:0 corrupted the data, opencl:0
    # gave another answer. The CPU raises for a partial overlap; a full one is a no-op.
    d = tdev(name)
    g = torch.Generator().manual_seed(32)
    base = torch.randn(64, generator=g) + 1.0
    partial = [lambda c: c.view(8, 8).copy_(c.view(8, 8).t()),
               lambda c: c[1:].copy_(c[:-1]),
               lambda c: c[:-1].copy_(c[1:]),
               lambda c: c[:32].view(4, 8).copy_(c[16:48].view(8, 4).t())]
    for f in partial:
        with pytest.raises(RuntimeError, match="refer to a single memory location") as cpu_error:
            f(base.clone())
        x = base.to(d)
        with pytest.raises(RuntimeError) as info:
            f(x)
        assert str(info.value).splitlines()[0] == str(cpu_error.value).splitlines()[0]
        torch.testing.assert_close(x.cpu(), base, rtol=0, atol=0)  # left as it was
    # A written-to tensor whose elements share memory raises as on the CPU.
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        base[:1].clone().expand(4).copy_(base[:4])
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        base[:1].to(d).expand(4).copy_(base[:4].to(d))
    # The same memory in the same layout: a no-op; views that do not overlap still copy.
    x = base.to(d)
    x.copy_(x)
    x.view(8, 8).copy_(x.view(8, 8)[:])
    x[:32].copy_(x[32:])
    torch.testing.assert_close(x.cpu(), torch.cat([base[32:], base[32:]]), rtol=0, atol=0)
    x = base.to(d)
    x[::2].copy_(x[1::2])
    ref = base.clone()
    ref[::2].copy_(ref[1::2])
    torch.testing.assert_close(x.cpu(), ref, rtol=0, atol=0)


# ---- Autocast ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_runs_matmuls_in_low_precision_like_the_cpu(name, dtype):
    # Without AutocastPrivateUse1 kernels every op inside torch.autocast("xinhe") raised.
    d = tdev(name)
    g = torch.Generator().manual_seed(41)
    a, b = torch.randn(8, 16, generator=g), torch.randn(16, 12, generator=g)
    w, bias = torch.randn(12, 16, generator=g), torch.randn(12, generator=g)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g) for _ in range(3))
    ln = torch.nn.LayerNorm(12)

    def run(dev, device_type):
        m = ln.to(dev)
        with torch.autocast(device_type=device_type, dtype=dtype):
            y = a.to(dev) @ b.to(dev)
            z = F.linear(a.to(dev), w.to(dev), bias.to(dev))
            s = F.scaled_dot_product_attention(q.to(dev), k.to(dev), v.to(dev))
            sm = torch.softmax(y, -1)
            n = m(z)
            total = y.sum()
        return [y, z, s, sm, n, total]

    got = run(d, "xinhe")
    ref = run("cpu", "cpu")
    assert all(t.device == d for t in got)
    # The matmul-like ops as CPU autocast runs them; softmax, layer_norm and sum in float32, as
    # CUDA's autocast (the CPU's keeps softmax in the low precision).
    assert [t.dtype for t in got[:3]] == [t.dtype for t in ref[:3]] == [dtype] * 3
    assert [t.dtype for t in got[3:]] == [torch.float32] * 3
    # Against float64 on the low-precision inputs: one rounding to the output dtype.
    c = lambda t: t.to(dtype).double()
    want64 = [c(a) @ c(b), F.linear(c(a), c(w), c(bias)),
              F.scaled_dot_product_attention(c(q), c(k), c(v))]
    for out, want, cpu in zip(got[:3], want64, ref[:3]):
        _check(out, want, 2e-2 * want.abs().max().item())
        torch.testing.assert_close(out.cpu().float(), cpu.float(), rtol=2e-2, atol=2e-2)
    y64, z64 = got[0].cpu().double(), got[1].cpu().double()
    ln64 = copy.deepcopy(ln).cpu().double()
    for out, want in zip(got[3:], [torch.softmax(y64, -1), ln64(z64).detach(), y64.sum()]):
        _check(out, want, 1e-4 * max(1.0, want.abs().max().item()))


@pytest.mark.parametrize("name", DEVICES)
def test_grad_scaler_training_step_matches_the_cpu(name):
    d = tdev(name)
    g = torch.Generator().manual_seed(42)
    x, target = torch.randn(6, 16, generator=g), torch.randn(6, 4, generator=g)
    torch.manual_seed(0)
    ref_model = torch.nn.Linear(16, 4)
    models = {"cpu": ref_model, "xinhe": torch.nn.Linear(16, 4)}
    models["xinhe"].load_state_dict(ref_model.state_dict())
    models["xinhe"].to(d)
    results = {}
    for device_type, dev in (("cpu", "cpu"), ("xinhe", d)):
        m = models[device_type]
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler(device_type, init_scale=1024.0)
        scales = []
        for step in range(3):
            opt.zero_grad()
            with torch.autocast(device_type, dtype=torch.bfloat16):
                out = m(x.to(dev))
                assert out.dtype == torch.bfloat16
                loss = F.mse_loss(out, target.to(dev))  # float32 under autocast
                assert loss.dtype == torch.float32
            if step == 1:
                loss = loss * float("inf")  # an overflow: the step is skipped, the scale halves
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            scales.append(scaler.get_scale())
        results[device_type] = (scales, m.weight.detach().cpu(), m.bias.detach().cpu())
    assert results["xinhe"][0] == results["cpu"][0] == [1024.0, 512.0, 512.0]
    for got, want in zip(results["xinhe"][1:], results["cpu"][1:]):
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-3)


# ---- Convolutions and RNN cells ------------------------------------------------------------

@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("case", ["conv1d", "conv2d", "conv2d_groups", "conv_transpose2d"])
def test_convolutions_forward_and_backward_match_float64(name, case):
    # convolution_overrideable had no kernel: every Conv layer raised "not implemented".
    d = tdev(name)
    g = torch.Generator().manual_seed(43)
    if case == "conv1d":
        x, w = torch.randn(2, 3, 11, generator=g), torch.randn(4, 3, 3, generator=g)
        b = torch.randn(4, generator=g)
        f = lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1)
    elif case == "conv2d":
        x, w = torch.randn(2, 3, 9, 8, generator=g), torch.randn(5, 3, 3, 2, generator=g)
        b = torch.randn(5, generator=g)
        f = lambda x, w, b: F.conv2d(x, w, b, padding=(1, 0), dilation=(1, 2))
    elif case == "conv2d_groups":
        x, w = torch.randn(2, 4, 7, 7, generator=g), torch.randn(6, 2, 3, 3, generator=g)
        b = None
        f = lambda x, w, b: F.conv2d(x, w, b, stride=2, groups=2)
    else:
        x, w = torch.randn(2, 4, 5, 6, generator=g), torch.randn(4, 3, 3, 3, generator=g)
        b = torch.randn(3, generator=g)
        f = lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)
    inputs = [t for t in (x, w, b) if t is not None]
    ref_in = [t.double().requires_grad_() for t in inputs]
    dev_in = [t.to(d).requires_grad_() for t in inputs]

    def call(ts):
        return f(ts[0], ts[1], ts[2] if len(ts) > 2 else None)

    ref, out = call(ref_in), call(dev_in)
    assert out.device == d and out.shape == ref.shape
    _check(out, ref.detach(), 1e-4)
    grad = torch.randn(ref.shape, generator=g)
    ref.backward(grad.double())
    out.backward(grad.to(d))
    for t, r in zip(dev_in, ref_in):
        assert t.grad.device == d
        _check(t.grad, r.grad, 1e-4)
    # Through nn modules, as a model uses them.
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    img = torch.randn(1, 3, 6, 6, generator=g)
    _check(conv.to(d)(img.to(d)), conv.double().cpu()(img.double()).detach(), 1e-4)


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("kind", ["GRU", "LSTM", "GRUCell", "LSTMCell"])
def test_rnns_forward_and_backward_match_float64(name, kind):
    # _thnn_fused_lstm_cell / _thnn_fused_gru_cell (what ATen's RNNs call on PrivateUse1) had no
    # kernel: GRU, LSTM, GRUCell and LSTMCell raised.
    d = tdev(name)
    g = torch.Generator().manual_seed(44)
    torch.manual_seed(44)
    cell = kind.endswith("Cell")
    m = getattr(torch.nn, kind)(5, 4) if cell else getattr(torch.nn, kind)(5, 4, num_layers=2)
    x = torch.randn(3, 5, generator=g) if cell else torch.randn(6, 3, 5, generator=g)
    h0 = torch.randn(3, 4, generator=g) if cell else torch.randn(2, 3, 4, generator=g)
    c0 = torch.randn(h0.shape, generator=g)
    state = (h0, c0) if "LSTM" in kind else h0
    ref_m = copy.deepcopy(m).double()
    dev_m = copy.deepcopy(m).to(d)
    xr, xd = x.double().requires_grad_(), x.to(d).requires_grad_()
    sr = tuple(s.double() for s in state) if isinstance(state, tuple) else state.double()
    sd = tuple(s.to(d) for s in state) if isinstance(state, tuple) else state.to(d)
    ref, out = ref_m(xr, sr), dev_m(xd, sd)
    flat = lambda r: [t for t in (r if isinstance(r, tuple) else (r,)) for t in
                      (t if isinstance(t, tuple) else (t,))]
    ref_t, out_t = flat(ref), flat(out)
    loss_r = sum((t * (i + 1)).sum() for i, t in enumerate(ref_t))
    loss_d = sum((t * (i + 1)).sum() for i, t in enumerate(out_t))
    for o, r in zip(out_t, ref_t):
        assert o.device == d
        _check(o, r.detach(), 1e-5)
    loss_r.backward()
    loss_d.backward()
    _check(xd.grad, xr.grad, 1e-5)
    for (pn, p), (_, pr) in zip(dev_m.named_parameters(), ref_m.named_parameters()):
        assert p.grad is not None and p.grad.device == d, pn
        _check(p.grad, pr.grad, 1e-5)


# ---- The CPU fallback: results, devices, overlap -------------------------------------------

def test_fallback_refuses_quantized_and_sparse_results():
    # A fallback result that is not a plain strided tensor became a plain xinhe tensor over its
    # bytes: quantize_per_tensor(x).dequantize() crashed the process on cpu:0. Run the crash
    # case in a subprocess, on every device.
    import subprocess
    import sys
    script = (
        "import sys, torch, xinhe.torch\n"
        "x = torch.randn(3).to(torch.device('xinhe', int(sys.argv[1])))\n"
        "try:\n"
        "    torch.quantize_per_tensor(x, 0.1, 0, torch.quint8).dequantize().cpu()\n"
        "except RuntimeError as e:\n"
        "    print('RAISED', str(e).splitlines()[0])\n")
    for i, name in enumerate(DEVICES):
        r = subprocess.run([sys.executable, "-c", script, str(i)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, (name, r.returncode, r.stderr[-2000:])
        assert "RAISED" in r.stdout, (name, r.stdout, r.stderr[-2000:])
        if name == "cpu:0":  # the in-place fallback names the op and the kind of tensor
            assert "quantize_per_tensor" in r.stdout and "quantized" in r.stdout, r.stdout
    x = torch.randn(3, 3).to(xt.device("cpu:0"))
    with pytest.raises(RuntimeError, match="_to_sparse.*sparse"):
        x.to_sparse()
    # Plain results still come back.
    torch.testing.assert_close((x * 2).cpu(), x.cpu() * 2)


def test_fallback_ops_refuse_operands_on_two_devices():
    g = torch.Generator().manual_seed(45)
    a, b = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    idx = torch.tensor([2, 0])
    devs = [torch.device("xinhe", i) for i in range(len(DEVICES))]
    pairs = [(a.to(devs[0]), b)]  # a xinhe and a non-scalar CPU operand
    if len(devs) > 1:
        pairs += [(a.to(devs[0]), b.to(devs[1])), (a.to(devs[1]), b)]
    ops = {
        "cat": lambda x, y: torch.cat([x, y]),
        "where": lambda x, y: torch.where(x > 0, x, y),
        "mv": lambda x, y: torch.mv(x, y[0]),
        "index_select": lambda x, y: x.index_select(0, idx.to(y.device)),
        "embedding": lambda x, y: F.embedding(idx.to(x.device), y),
        "add_": lambda x, y: x.clone().add_(y),
        "mul": lambda x, y: x * y,
    }
    for x, y in pairs:
        for op_name, f in ops.items():
            for p, q in ((x, y), (y, x)):
                with pytest.raises(RuntimeError, match="Expected all tensors to be on the same "
                                   "device, but found at least two devices"):
                    f(p, q)
    # What PyTorch allows: 0-dim CPU tensors as scalars, copies across devices, CPU indices.
    s = torch.tensor(2.0)
    for dev in devs:
        x = a.to(dev)
        torch.testing.assert_close((x * s).cpu(), a * 2)
        torch.testing.assert_close(torch.where(x > 0, x, s).cpu(), torch.where(a > 0, a, 2.0))
        torch.testing.assert_close(torch.lerp(x, x * 2, torch.tensor(0.3)).cpu(),
                                   torch.lerp(a, a * 2, 0.3))
        torch.testing.assert_close(x[idx].cpu(), a[idx])
        torch.testing.assert_close(x[a > 0].cpu(), a[a > 0])
        y = x.clone()
        y[idx] = torch.tensor(5.0)
        ref = a.clone()
        ref[idx] = 5.0
        torch.testing.assert_close(y.cpu(), ref)
        for other in devs:
            z = torch.empty(3, 4, device=other).copy_(x)
            torch.testing.assert_close(z.cpu(), a)


@pytest.mark.parametrize("name", DEVICES)
def test_fallback_out_and_inplace_overlap_raise_as_on_the_cpu(name):
    # An out= argument or in-place self overlapping an input ran silently on the fallback's
    # separate CPU views and copies, with answers that differed between devices.
    d = tdev(name)
    g = torch.Generator().manual_seed(46)
    base = torch.randn(8, generator=g) * 10 + 1
    cases = {
        "add out": lambda x: torch.add(x[:-1], 1, out=x[1:]),
        "cumsum out": lambda x: torch.cumsum(x[:-1], 0, out=x[1:]),
        "neg out back": lambda x: torch.neg(x[1:], out=x[:-1]),
        "cat out": lambda x: torch.cat([x[:2], x[:2]], out=x[1:5]),
        "mul_ partial": lambda x: x[1:].mul_(x[:-1]),
        "add_ expanded self": lambda x: x[:1].expand(4).add_(1),
        # Allowed on the CPU: a full overlap, and disjoint views of one tensor.
        "add out full": lambda x: torch.add(x, 1, out=x),
        "mul_ self": lambda x: x.mul_(x),
        "add out disjoint": lambda x: torch.add(x[:4], x[4:], out=x[:4]),
        "cumsum_": lambda x: x[1:].cumsum_(0),
        "sort out": lambda x: torch.sort(x[:-1].flip(0), out=(x[1:], torch.empty(7, dtype=torch.long,
                                                                                device=x.device))),
    }
    for case, f in cases.items():
        ref = base.clone()
        try:
            f(ref)
            cpu_error = None
        except RuntimeError as e:
            cpu_error = str(e).splitlines()[0]
        x = base.to(d)
        if cpu_error is None:
            f(x)
            torch.testing.assert_close(x.cpu(), ref, rtol=0, atol=0, msg=case)
        else:
            with pytest.raises(RuntimeError) as info:
                f(x)
            assert str(info.value).splitlines()[0] == cpu_error, case
            torch.testing.assert_close(x.cpu(), base, rtol=0, atol=0, msg=case)  # untouched


# ---- Small device-module pieces ----------------------------------------------------------

@pytest.mark.parametrize("name", DEVICES)
def test_record_stream_manual_seed_and_memory_allocated(name):
    d = tdev(name)
    x = torch.randn(16).to(d)
    s = torch.xinhe.Stream(device=d)
    y = x * 2
    y.record_stream(s)  # a no-op: freeing memory waits for every stream of the device
    torch.testing.assert_close(y.cpu(), x.cpu() * 2)
    torch.xinhe.manual_seed(123)
    r1 = torch.randn(5, device=d).cpu()
    torch.xinhe.manual_seed(123)
    r2 = torch.randn(5, device=d).cpu()
    assert torch.equal(r1, r2)
    before = torch.xinhe.memory_allocated(d)
    t = torch.empty(1000, dtype=torch.float32, device=d)
    assert torch.xinhe.memory_allocated(d) - before == 4000
    del t
    assert torch.xinhe.memory_allocated(d) == before


@pytest.mark.parametrize("name", DEVICES)
def test_copies_apply_conjugate_and_negative_bits(name):
    # z.conj().cpu() on a complex xinhe tensor (and any copy of a neg view) recursed through
    # PyTorch's conjugate/negative fallbacks and xinhe's copy until the stack overflowed.
    d = tdev(name)
    g = torch.Generator().manual_seed(41)
    z = torch.randn(3, 4, dtype=torch.complex64, generator=g) + (1 + 1j)
    x = torch.randn(3, 4, generator=g) + 1.0
    zd, xd = z.to(d), x.to(d)
    zc = z.conj().resolve_conj()
    torch.testing.assert_close(zd.conj().cpu(), zc)
    torch.testing.assert_close(xd._neg_view().cpu(), -x)
    torch.testing.assert_close(torch.empty(3, 4, device=d).copy_(xd._neg_view()).cpu(), -x)
    torch.testing.assert_close(
        torch.empty(3, 4, dtype=torch.complex64, device=d).copy_(zd.conj()).cpu(), zc)
    torch.testing.assert_close(
        torch.empty(3, 4, dtype=torch.complex64, device=d).copy_(z.conj()).cpu(), zc)
    torch.testing.assert_close(zd.conj().t().cpu(), zc.t())
    torch.testing.assert_close(zd.conj().imag.cpu(), -z.imag)
    torch.testing.assert_close(zd.conj().resolve_conj().cpu(), zc)
    y = zd.clone()
    y.copy_(y.conj())  # same memory, other bits: not a no-op
    torch.testing.assert_close(y.cpu(), zc)
    w = torch.empty(3, 4, dtype=torch.complex64, device=d)
    w.conj().copy_(zd)  # written through a conjugate view
    torch.testing.assert_close(w.cpu(), zc)
