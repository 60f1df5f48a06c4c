"""xinhe Python package: devices, streams, events, buffers, DLPack both ways, errors, and the
GEMM and attention ops (describe/check/workspace/run and the one-call forms) on every device,
checked against float64 references computed with numpy on random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import xinhe

DEVICES = [d.name for d in xinhe.devices()]
POISON = np.float32(np.nan)


def test_devices_in_registry_order():
    names = [d.name for d in xinhe.devices()]
    assert names[0] == "cpu:0"  # the built-in backend is registered first
    assert "opencl:0" in names, f"PoCL's opencl:0 is expected here: {xinhe.backends()}"
    for i, d in enumerate(xinhe.devices()):
        assert d.index == i
        assert xinhe.device(d.name) == d
        p = d.properties
        assert p.name == d.name and p.backend == d.name.split(":")[0]
        assert p.min_alignment >= 1 and p.total_memory > 0
        assert xinhe.DType.f32 in p.dtypes
    assert xinhe.default_device() in xinhe.devices()
    assert any(b.name == "cpu" and b.loaded for b in xinhe.backends())


def test_errors_carry_code_backend_and_message():
    with pytest.raises(xinhe.Error) as info:
        xinhe.device("npu:7")
    assert info.value.code == xinhe.StatusCode.NOT_FOUND
    assert "npu:7" in info.value.message
    assert info.value.call == "xinhe_device_get_by_name"
    dev = xinhe.device("cpu:0")
    with pytest.raises(xinhe.Error) as info:
        dev.alloc(64, alignment=3)
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT
    assert info.value.backend == "cpu"
    assert "power of two" in info.value.message


@pytest.mark.parametrize("name", DEVICES)
def test_stream_buffer_event_round_trip(name):
    dev = xinhe.device(name)
    stream = dev.create_stream()
    buf = dev.alloc(4096)
    assert buf.size == 4096 and buf.device == dev
    src = np.random.default_rng(1).standard_normal(1024).astype(np.float32)
    stream.copy_from_host(buf, src)
    out = np.full(1024, POISON)
    start, end = dev.create_event(), dev.create_event()
    start.record(stream)
    stream.copy_to_host(out, buf)
    end.record(stream)
    end.synchronize()
    assert end.query()
    stream.synchronize()
    assert stream.query()
    np.testing.assert_array_equal(out, src)
    if dev.properties.timing:
        assert end.elapsed_ms(start) >= 0.0
    stream.fill(buf, 0x3F800000)  # 1.0f
    stream.synchronize()
    stream.copy_to_host(out, buf)
    assert (out == 1.0).all()


def test_dlpack_zero_copy_on_cpu0():
    # torch's CPU tensors are 64-byte aligned: cpu:0 imports them in place.
    t = torch.randn(8, 16)
    a = xinhe.from_dlpack(t, device="cpu:0", copy=False)
    assert a.shape == (8, 16) and a.dtype == xinhe.DType.f32 and a.device.name == "cpu:0"
    assert a.buffer.host_pointer == t.data_ptr()
    back = torch.from_dlpack(a)
    assert back.data_ptr() == t.data_ptr()
    t[3, 4] = 42.0
    assert back[3, 4].item() == 42.0
    # numpy sees the same memory too.
    n = np.from_dlpack(a)
    assert n.ctypes.data == t.data_ptr()
    # A misaligned view cannot be shared: copy=False says why, copy=None copies.
    odd = t.view(-1)[1:17]
    with pytest.raises(BufferError, match="aligned"):
        xinhe.from_dlpack(odd, device="cpu:0", copy=False)
    c = xinhe.from_dlpack(odd, device="cpu:0")
    assert c.buffer.host_pointer != odd.data_ptr()
    np.testing.assert_array_equal(np.from_dlpack(c), odd.numpy())


def test_dlpack_on_opencl_copies_explicitly():
    dev = xinhe.device("opencl:0")
    assert dev.properties.host_memory  # PoCL: host memory, but opaque cl_mem buffers
    src = np.arange(24, dtype=np.float32).reshape(4, 6)
    with pytest.raises(BufferError, match="not host memory|cannot use host memory"):
        xinhe.from_dlpack(src, device=dev, copy=False)
    a = xinhe.from_dlpack(src, device=dev)  # copy=None: copied
    assert a.buffer.host_pointer is None
    assert a.__dlpack_device__()[0] != 1
    with pytest.raises(BufferError, match="not host-addressable"):
        a.__dlpack__()
    n = np.from_dlpack(a, device="cpu", copy=True)
    np.testing.assert_array_equal(n, src)
    np.testing.assert_array_equal(a.numpy(), src)
    t = torch.from_dlpack(xinhe.from_dlpack_host(a))
    np.testing.assert_array_equal(t.numpy(), src)


def test_dlpack_keeps_source_alive_and_versioned_capsule():
    t = torch.arange(64, dtype=torch.float32)
    a = xinhe.from_dlpack(t, device="cpu:0", copy=False)
    pointer = t.data_ptr()
    del t
    import gc
    gc.collect()
    assert a.buffer.host_pointer == pointer
    np.testing.assert_array_equal(np.from_dlpack(a), np.arange(64, dtype=np.float32))
    capsule = a.__dlpack__(max_version=(1, 0))
    assert "dltensor_versioned" in repr(capsule)
    legacy = a.__dlpack__()
    assert "dltensor" in repr(legacy)


def _ref_gemm(a, b):
    return a.astype(np.float64) @ b.astype(np.float64)


@pytest.mark.parametrize("name", DEVICES)
def test_gemm_describe_check_workspace_run(name):
    dev = xinhe.device(name)
    rng = np.random.default_rng(7)
    m, n, k = 37, 29, 53
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    op = xinhe.Gemm(dev, xinhe.DType.f32, m=m, n=n, k=k)
    op.check()
    assert op.unsupported_reason is None and op.impl_name
    xa, xb = xinhe.asarray(a, device=dev), xinhe.asarray(b, device=dev)
    xc = xinhe.asarray(np.full((m, n), POISON), device=dev)
    ws = dev.alloc(op.workspace_size) if op.workspace_size else None
    stream = dev.create_stream()
    op.run(stream, xa, xb, xc, workspace=ws)
    stream.synchronize()
    ref = _ref_gemm(a, b)
    out = xc.numpy()
    assert np.abs(out - ref).max() <= 1e-4 * (1 + np.abs(ref).max())
    with pytest.raises(xinhe.Error) as info:
        xinhe.Gemm(dev, xinhe.DType.f32, m=-1, n=n, k=k)
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("kind", ["numpy", "torch", "xinhe"])
def test_gemm_one_call_forms(name, kind):
    rng = np.random.default_rng(11)
    a = rng.standard_normal((3, 20, 12)).astype(np.float32)
    b = rng.standard_normal((12, 9)).astype(np.float32)
    bt = np.ascontiguousarray(b.T)
    if kind == "numpy":
        ia, ib = a, bt.T  # B as a transposed view
    elif kind == "torch":
        ia, ib = torch.from_numpy(a), torch.from_numpy(bt).t()
    else:
        ia, ib = xinhe.asarray(a, device=name), xinhe.asarray(b, device=name)
    # batched A (3, 20, 12) against a shared B: batch stride 0 on B
    if kind == "xinhe":
        out = xinhe.gemm(ia, _expand(ib, 3), device=name).numpy()
    elif kind == "torch":
        out = xinhe.gemm(ia, ib.expand(3, 12, 9), device=name).numpy()
    else:
        out = xinhe.gemm(ia, np.broadcast_to(ib, (3, 12, 9)), device=name)
    ref = np.einsum("bik,kj->bij", a.astype(np.float64), b.astype(np.float64))
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-4 * (1 + np.abs(ref).max())


def _expand(x: xinhe.Array, batch: int) -> xinhe.Array:
    return xinhe.view(x.buffer, x.offset, x.dtype, [batch, *x.shape], [0, *x.strides])


def _ref_attention(q, k, v, causal):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    group = q.shape[1] // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    if causal:
        sq, skv = s.shape[-2:]
        mask = np.arange(skv)[None, :] <= np.arange(sq)[:, None] + (skv - sq)
        s = np.where(mask, s, -np.inf)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return p @ v


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("causal", [False, True])
def test_attention_gqa_one_call_and_op(name, causal):
    rng = np.random.default_rng(5)
    q = rng.standard_normal((2, 4, 9, 16)).astype(np.float32)
    k = rng.standard_normal((2, 2, 13, 16)).astype(np.float32)
    v = rng.standard_normal((2, 2, 13, 16)).astype(np.float32)
    ref = _ref_attention(q, k, v, causal)
    out = xinhe.attention(q, k, v, causal=causal, device=name)
    assert isinstance(out, np.ndarray)
    assert np.abs(out - ref).max() <= 2e-5 * (1 + np.abs(ref).max())
    # BSHD views of torch tensors: strides go straight into the description.
    tq = torch.from_numpy(np.ascontiguousarray(q.transpose(0, 2, 1, 3))).transpose(1, 2)
    out_t, lse = xinhe.attention(tq, torch.from_numpy(k), torch.from_numpy(v), causal=causal,
                                 return_lse=True, device=name)
    assert isinstance(out_t, torch.Tensor) and lse.shape == (2, 4, 9)
    assert np.abs(out_t.numpy() - ref).max() <= 2e-5 * (1 + np.abs(ref).max())
    with pytest.raises(xinhe.Error) as info:  # D outside [1, 256] is malformed
        xinhe.Attention(xinhe.device(name), xinhe.DType.f32, 2, 4, 2, 9, 13, 300)
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_gemm_accumulates_into_callers_c(name, kind):
    rng = np.random.default_rng(13)
    a = rng.standard_normal((16, 8)).astype(np.float32)
    b = rng.standard_normal((8, 12)).astype(np.float32)
    c0 = rng.standard_normal((16, 12)).astype(np.float32)
    ref = 2.0 * _ref_gemm(a, b) + 0.5 * c0
    # numpy's 16-byte alignment makes cpu:0 copy C; torch's 64 lets it share C.
    c = c0.copy() if kind == "numpy" else torch.from_numpy(c0.copy())
    ia, ib = (a, b) if kind == "numpy" else (torch.from_numpy(a), torch.from_numpy(b))
    out = xinhe.gemm(ia, ib, c, alpha=2.0, beta=0.5, device=name)
    assert out is c
    got = c if kind == "numpy" else c.numpy()
    assert np.abs(got - ref).max() <= 1e-4 * (1 + np.abs(ref).max())


# ---- Lifetimes of asynchronous work, bounds, read-only data ------------------------------------

def test_stream_keeps_operands_of_queued_work_alive():
    # op.run, Stream.copy and Stream.fill are asynchronous: the stream holds their operands
    # until synchronize (or its destruction), so dropping the Python objects is safe.
    import gc
    import sys
    dev = xinhe.device("cpu:0")
    raw = np.zeros(64 + 16, np.float32)
    skip = (-raw.ctypes.data % 64) // 4
    host = raw[skip:skip + 64]  # 64-byte aligned: cpu:0 wraps it, and the buffer holds it
    base = sys.getrefcount(host)
    s = dev.create_stream()
    x = xinhe.from_dlpack(host, device=dev, copy=False)
    assert sys.getrefcount(host) > base
    s.fill(x.buffer, 0x3F800000)  # 1.0f
    del x
    gc.collect()
    assert sys.getrefcount(host) > base, "the stream let go of a queued fill's buffer"
    s.synchronize()
    gc.collect()
    assert sys.getrefcount(host) == base, "synchronize did not release the operands"
    assert (host == 1.0).all()
    # So does an event recorded after the work, once it is complete.
    s.fill(xinhe.from_dlpack(host, device=dev, copy=False).buffer, 0x40000000)  # 2.0f
    done = dev.create_event()
    done.record(s)
    gc.collect()
    assert sys.getrefcount(host) > base
    done.synchronize()
    gc.collect()
    assert sys.getrefcount(host) == base
    assert (host == 2.0).all()
    # Destroying the stream waits for its work and releases what it held.
    s = dev.create_stream()
    other = dev.alloc(256)
    s.copy(other, xinhe.from_dlpack(host, device=dev, copy=False).buffer, 256)
    assert sys.getrefcount(host) > base
    del s
    gc.collect()
    assert sys.getrefcount(host) == base


def test_stream_that_is_never_synchronized_releases_finished_work():
    # A loop that queues without synchronizing must not hold every operand forever: the
    # stream lets go of what finished work used as it queues more.
    import gc
    import sys
    import time
    dev = xinhe.device("cpu:0")
    raw = np.zeros(64 + 16, np.float32)
    skip = (-raw.ctypes.data % 64) // 4
    host = raw[skip:skip + 64]
    base = sys.getrefcount(host)
    s = dev.create_stream()
    for _ in range(300):
        s.fill(xinhe.from_dlpack(host, device=dev, copy=False).buffer, 0)
    other = dev.alloc(64)
    deadline = time.monotonic() + 20
    while sys.getrefcount(host) > base and time.monotonic() < deadline:
        for _ in range(64):
            s.fill(other, 0)
        gc.collect()
    assert sys.getrefcount(host) == base
    s.synchronize()


def _run_script(code: str) -> "subprocess.CompletedProcess[str]":
    import os
    import subprocess
    import sys
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XINHE_CPU_THREADS": "1"}
    return subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True,
                          text=True, env=env, timeout=300)


def test_temporaries_passed_to_async_calls_stay_valid():
    # The docs' form: op.run(s, xinhe.asarray(a), ...) with temporaries, and a Stream.copy
    # whose source is dropped at once. Without the stream holding them this reads freed
    # memory (wrong numbers or a crash), so it runs in a child process.
    code = """
import gc, numpy as np, xinhe
dev = xinhe.device("cpu:0")
m = n = k = 1024
rng = np.random.default_rng(0)
a = rng.random((m, k), dtype=np.float32); b = rng.random((k, n), dtype=np.float32)
op = xinhe.Gemm(dev, xinhe.DType.f32, m=m, n=n, k=k); op.check()
ws = dev.alloc(op.workspace_size) if op.workspace_size else None
s = dev.create_stream()
xc = xinhe.empty([m, n], xinhe.DType.f32, dev)
op.run(s, xinhe.asarray(a, device=dev), xinhe.asarray(b, device=dev), xc, workspace=ws)
junk = [xinhe.asarray(np.full((m, k), 1e30, np.float32), device=dev) for _ in range(4)]
s.synchronize()
r = a.astype(np.float64) @ b
err = float(np.abs(xc.numpy() - r).max() / np.abs(r).max())
assert err < 1e-5, err
size = 64 << 20
src, dst = dev.alloc(size), dev.alloc(size)
s.fill(src, 7, 1)
s.copy(dst, src, size)
del src; gc.collect()
junk = [dev.alloc(size) for _ in range(2)]
s.synchronize()
out = np.empty(size, np.uint8); s.copy_to_host(out, dst)
assert (out == 7).all()
print("ok")
"""
    r = _run_script(code)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]


def test_view_and_empty_reject_sizes_that_overflow():
    dev = xinhe.device("cpu:0")
    buf = dev.alloc(64)
    # 4 dims of stride 2^60 f32 elements span 2^64 + 4 bytes: must not wrap to 4.
    with pytest.raises(xinhe.Error, match="overflow") as info:
        xinhe.view(buf, 0, xinhe.DType.f32, [2, 2, 2, 2], [2**60] * 4)
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT
    with pytest.raises(xinhe.Error, match="overflow"):
        xinhe.view(buf, 0, xinhe.DType.f32, [2**62 + 1])
    with pytest.raises(xinhe.Error, match="exceeds"):
        xinhe.view(buf, 2**64 - 4, xinhe.DType.f32, [1])
    with pytest.raises(xinhe.Error, match="overflow") as info:
        xinhe.empty([2**62], xinhe.DType.f32, dev)  # 2^64 bytes, not a 0-byte buffer
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT
    # What fits still works, up to the last byte.
    v = xinhe.view(buf, 0, xinhe.DType.f32, [2, 2, 2, 2], [8, 4, 2, 1])
    assert v.shape == (2, 2, 2, 2)
    assert xinhe.view(buf, 60, xinhe.DType.f32, [1]).offset == 60
    assert xinhe.view(buf, 64, xinhe.DType.f32, [0, 5], [2**62, 2**62]).size == 0


@pytest.mark.parametrize("name", DEVICES)
def test_read_only_numpy_data_is_copied(name):
    rng = np.random.default_rng(17)
    a = rng.standard_normal((8, 8)).astype(np.float32)
    ro = a.copy()
    ro.flags.writeable = False
    out = xinhe.gemm(ro, ro, device=name)
    assert np.abs(out - _ref_gemm(a, a)).max() <= 1e-4 * (1 + np.abs(_ref_gemm(a, a)).max())
    raw = np.frombuffer(a.tobytes(), np.float32)  # read-only: it wraps an immutable bytes
    x = xinhe.from_dlpack(raw, device=name)
    np.testing.assert_array_equal(x.numpy(), a.ravel())
    np.testing.assert_array_equal(xinhe.asarray(raw, device=name).numpy(), a.ravel())
    with pytest.raises(BufferError, match="read-only"):
        xinhe.from_dlpack(raw, device=name, copy=False)


@pytest.mark.parametrize("name", DEVICES)
def test_results_come_back_as_the_kind_of_the_first_operand(name):
    import torch
    rng = np.random.default_rng(11)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    want = a.astype(np.float64) @ b.astype(np.float64)
    got = xinhe.gemm(xinhe.asarray(a, device=name), b, device=name)
    assert isinstance(got, xinhe.Array)  # A is an xinhe.Array, B numpy: an Array
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    got = xinhe.gemm(torch.from_numpy(a), b, device=name)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    # A c of another kind than A is written in place and handed back as itself.
    c = torch.full((5, 3), 2.0)
    out = xinhe.gemm(a, b, c, beta=1.0, device=name)
    assert out is c
    np.testing.assert_allclose(c.numpy(), want + 2.0, rtol=1e-5, atol=1e-5)
    c = np.full((5, 3), 2.0, np.float32)
    out = xinhe.gemm(torch.from_numpy(a), torch.from_numpy(b), c, beta=1.0, device=name)
    assert out is c
    np.testing.assert_allclose(c, want + 2.0, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", DEVICES)
def test_gemm_takes_operands_whose_rows_overlap(name):
    # An expanded torch row (stride 0) has no leading dimension: it is copied dense, on every
    # device alike (cpu:0 imported it zero-copy and the GEMM refused it, opencl:0 copied it).
    rng = np.random.default_rng(5)
    # clone(): torch's allocator aligns to 64 bytes, so cpu:0 imports the tensor zero-copy.
    row = torch.from_numpy(rng.standard_normal((1, 5)).astype(np.float32)).clone()
    a = row.expand(6, 5)
    b = torch.from_numpy(rng.standard_normal((5, 4)).astype(np.float32))
    want = a.double() @ b.double()
    got = xinhe.gemm(a, b, device=name)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    got = xinhe.gemm(b.T, a.T, device=name)  # transposed: columns overlap
    np.testing.assert_allclose(got.numpy(), want.T.numpy(), rtol=1e-5, atol=1e-5)
    bf = xinhe.gemm(a.bfloat16(), b.bfloat16(), device=name)
    np.testing.assert_allclose(bf.float().numpy(), want.numpy(), rtol=3e-2, atol=3e-2)
    # An output whose rows overlap cannot hold the result: refused, never computed into a copy.
    c = torch.full((1, 4), 7.0).expand(6, 4)
    with pytest.raises(xinhe.Error, match="C has strides .*rows overlap") as info:
        xinhe.gemm(a, b, c, device=name)
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT
    assert torch.equal(c, torch.full((6, 4), 7.0))


@pytest.mark.parametrize("name", DEVICES)
def test_numpy_of_a_strided_view(name):
    data = np.arange(24, dtype=np.float32).reshape(4, 6)
    buf = xinhe.asarray(data, device=name)
    v = xinhe.view(buf.buffer, 4, xinhe.DType.f32, [3, 2], [6, 2])  # from element 1, every other
    np.testing.assert_array_equal(v.numpy(), np.array([[1, 3], [7, 9], [13, 15]], np.float32))
    t = xinhe.view(buf.buffer, 0, xinhe.DType.f32, [6, 4], [1, 6])  # the transpose
    np.testing.assert_array_equal(t.numpy(), data.T)


def test_python_layer_errors_name_the_function_called():
    a = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    with pytest.raises(xinhe.Error) as info:
        xinhe.gemm(a, a)  # inner dimensions differ
    assert info.value.call == "xinhe.gemm" and info.value.backend == ""
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT
    with pytest.raises(xinhe.Error) as info:
        xinhe.attention(a, a, a)
    assert info.value.call == "xinhe.attention"


@pytest.mark.parametrize("bad", [[[1.0, 2.0]], 3.0, "ab", None, {"a": 1}])
def test_importing_what_is_not_an_array_raises_a_clear_type_error(bad):
    with pytest.raises(TypeError, match="cannot import a .*: pass a numpy array"):
        xinhe.from_dlpack(bad)
    b = np.ones((2, 2), np.float32)
    if bad is not None:  # c=None is the documented "make a new C"
        with pytest.raises(TypeError, match="cannot import a"):
            xinhe.gemm(bad, b)
    assert xinhe.asarray([[1.0, 2.0]]).shape == (1, 2)  # nested lists: asarray copies them


# ---- Audit fixes: strided import/export in every dtype, read-only data, exit, small cases ------

def _bf16_operands():
    g = torch.Generator().manual_seed(11)
    a = (torch.rand(8, 6, generator=g) + 0.5).bfloat16()
    b = (torch.rand(6, 4, generator=g) + 0.5).bfloat16()
    return a, b


@pytest.mark.parametrize("name", DEVICES)
def test_non_dense_bf16_torch_tensors_import_and_multiply(name):
    a, b = _bf16_operands()
    views = {"dense": (a, b), "transposed": (a.t().contiguous().t(), b),
             "unaligned slice": (a[:, 1:], b[1:]), "expanded": (a[:1].expand(8, 6), b)}
    for what, (x, y) in views.items():
        c = xinhe.gemm(x, y, device=name)
        ref = x.double() @ y.double()
        err = float((c.double() - ref).abs().max() / ref.abs().max())
        assert err < 1e-2, (what, err)
    for copy in (None, True):
        for x in (a.t(), a[:, 1:], a[1:2].expand(3, 6), a[::3]):
            imported = xinhe.from_dlpack(x, device=name, copy=copy)
            back = torch.from_dlpack(xinhe.from_dlpack_host(imported))
            assert torch.equal(back, x), copy


def test_strided_import_gathers_every_layout_exactly():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((5, 7, 6)).astype(np.float64) + 3.0
    for view in (base[::-1], base[:, ::-2, 1:], base.transpose(2, 0, 1), base[1:4, 2, ::2],
                 np.broadcast_to(base[:1], (3, 7, 6)), base[..., 3]):
        for name in DEVICES:
            got = xinhe.from_dlpack(view, device=name, copy=True).numpy()
            assert np.array_equal(got, view)


@pytest.mark.parametrize("name", DEVICES)
def test_strided_view_exports_a_dense_copy(name):
    host = np.random.default_rng(6).standard_normal((4, 6)).astype(np.float32) + 2.0
    base = xinhe.asarray(host, device=name)
    v = xinhe.view(base.buffer, 4, xinhe.DType.f32, [5, 3], [1, 6])  # (5, 3) of host.T
    ref = host.reshape(-1)[1:].copy()
    ref = np.lib.stride_tricks.as_strided(ref, (5, 3), (4, 24))
    assert np.array_equal(np.from_dlpack(v, device="cpu", copy=True), ref)
    assert torch.equal(torch.from_dlpack(v.__dlpack__(dl_device=(1, 0), copy=True)),
                       torch.from_numpy(np.ascontiguousarray(ref)))
    # bf16 has no numpy path; the export copy is the way out of a device.
    b = xinhe.asarray(torch.from_numpy(host).bfloat16(), device=name)
    bv = xinhe.view(b.buffer, 0, xinhe.DType.bf16, [6, 4], [1, 6])
    out = torch.from_dlpack(bv.__dlpack__(dl_device=(1, 0), copy=True))
    assert torch.equal(out, torch.from_numpy(host).bfloat16().t())
    assert torch.equal(torch.from_dlpack(xinhe.asarray(bv, device="cpu:0")),
                       torch.from_numpy(host).bfloat16().t())


def test_dlpack_errors_are_buffer_errors():
    c = xinhe.asarray(np.ones((2, 3), np.float32), device="cpu:0")
    with pytest.raises(BufferError, match="one CPU device"):
        c.__dlpack__(dl_device=(1, 7))
    o = xinhe.asarray(np.ones((2, 3), np.float32), device="opencl:0")
    with pytest.raises(BufferError):
        o.__dlpack__(dl_device=(1, 3), copy=True)
    # A zero-size array reports what the non-empty ones on its device report.
    for name in DEVICES:
        full = xinhe.asarray(np.ones((2, 3), np.float32), device=name)
        empty = xinhe.asarray(np.ones((0, 3), np.float32), device=name)
        assert empty.__dlpack_device__() == full.__dlpack_device__(), name
        assert np.from_dlpack(xinhe.from_dlpack_host(empty)).shape == (0, 3)
        assert empty.numpy().shape == (0, 3)


def test_minor_refusals_are_clear():
    c = xinhe.asarray(np.ones((2, 3), np.float32), device="cpu:0")
    with pytest.raises(xinhe.Error, match="not a multiple of the 4-byte element size"):
        xinhe.view(c.buffer, 2, xinhe.DType.f32, [2], [1])
    with pytest.raises(xinhe.Error, match="got int64"):
        xinhe.from_dlpack(np.arange(3, dtype=np.int64))
    t = torch.rand(3, 4, dtype=torch.float64) + 1.0
    for name in DEVICES:
        for dtype, tdtype in ((xinhe.DType.f32, torch.float32), (xinhe.DType.bf16, torch.bfloat16)):
            a = xinhe.asarray(t.bfloat16(), dtype=dtype, device=name)
            assert a.dtype == dtype
            assert torch.equal(torch.from_dlpack(xinhe.from_dlpack_host(a)), t.bfloat16().to(tdtype))


class _DLPackOnly:
    """Only the DLPack protocol, as a jax/cupy-like wrapper or a user's own type offers."""

    def __init__(self, a):
        self.a = a

    def __dlpack__(self, **kw):
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


@pytest.mark.parametrize("name", DEVICES)
def test_read_only_buffers_and_dlpack_are_imported_by_copying(name):
    values = np.random.default_rng(8).standard_normal(16).astype(np.float32) + 1.0
    raw = values.tobytes()
    ro = np.frombuffer(raw, np.float32)
    assert not ro.flags.writeable
    sources = {"read-only DLPack": _DLPackOnly(ro),
               "read-only memoryview": memoryview(raw).cast("f"),
               "bytes view as f32": memoryview(bytearray(raw)).toreadonly().cast("f")}
    for what, src in sources.items():
        for copy in (None, True):
            got = xinhe.from_dlpack(src, device=name, copy=copy)
            assert np.array_equal(got.numpy(), values), (what, copy)
        with pytest.raises(BufferError, match="read-only"):
            xinhe.from_dlpack(src, device=name, copy=False)
    c = xinhe.gemm(_DLPackOnly(ro.reshape(4, 4)), values.reshape(4, 4), device=name)
    ref = values.reshape(4, 4).astype(np.float64) @ values.reshape(4, 4).astype(np.float64)
    assert np.abs(np.asarray(c) - ref).max() <= 1e-5 * np.abs(ref).max()
    # Bytes are untyped: refused with the dtype named, as a bytearray is.
    with pytest.raises(xinhe.Error, match="uint8"):
        xinhe.from_dlpack(bytes(16), device=name)


@pytest.mark.parametrize("name", DEVICES)
def test_gemm_with_zero_size_numpy_operands(name):
    rng = np.random.default_rng(9)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    a = np.zeros((0, 3), np.float32)
    assert xinhe.gemm(a, b, device=name).shape == (0, 4)
    a, b = np.ones((4, 0), np.float32), np.ones((0, 5), np.float32)
    c = rng.standard_normal((4, 5)).astype(np.float32) + 1.0
    out = xinhe.gemm(a, b, c.copy(), beta=0.5, device=name)
    assert np.allclose(out, 0.5 * c.astype(np.float64), rtol=1e-6)
    assert xinhe.gemm(np.ones((2, 3), np.float32), np.ones((3, 0), np.float32), device=name).shape == (2, 0)


def test_exit_handler_registered_before_import_joins_a_worker():
    # An atexit handler registered before `import xinhe` runs after xinhe's own (LIFO); one
    # that stops and joins a worker looping on xinhe calls must find it returning. An exit
    # flag set by xinhe's handler once parked every returning thread, and this hung.
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent("""
        import atexit, threading, numpy as np
        stop = threading.Event()
        worker = None
        def shutdown():
            stop.set()
            worker.join()
            print("worker joined", flush=True)
        atexit.register(shutdown)
        import xinhe
        x = np.ones((256, 256), np.float32)
        def work():
            while not stop.is_set():
                xinhe.asarray(x)
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        import time; time.sleep(0.3)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert "worker joined" in r.stdout


def test_sub_interpreter_that_imported_xinhe_leaves_threads_working():
    # Ending a sub-interpreter that imported xinhe runs its exit handlers; threads of the main
    # interpreter must still return from blocking calls afterwards.
    pytest.importorskip("_xxsubinterpreters")
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent("""
        import threading, numpy as np
        import _xxsubinterpreters as si
        interp = si.create()
        si.run_string(interp, "import xinhe")
        si.destroy(interp)
        import xinhe
        x = np.ones((64, 64), np.float32)
        done = []
        t = threading.Thread(target=lambda: (xinhe.asarray(x), done.append(1)), daemon=True)
        t.start(); t.join(30)
        print("returned" if done else "parked", flush=True)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "parked" not in r.stdout, (r.stdout, r.stderr[-2000:])
    assert "returned" in r.stdout, (r.returncode, r.stdout, r.stderr[-2000:])


@pytest.mark.parametrize("name", DEVICES)
def test_daemon_thread_inside_a_call_at_exit_does_not_abort(name):
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent(f"""
        import threading, time, numpy as np, xinhe
        a = np.ones((256, 256), np.float32)
        def loop():
            while True:
                xinhe.gemm(a, a, device="{name}")
                s = xinhe.device("{name}").create_stream(); b = xinhe.asarray(a, device="{name}"); s.synchronize()
        for _ in range(2):
            threading.Thread(target=loop, daemon=True).start()
        time.sleep(0.3)
        print("exiting", flush=True)
    """)
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
        assert "exiting" in r.stdout


# ---- Audit fixes: exit with zero-copy imports alive, gemm layouts, host copies, empty export ---

def test_torch_tensor_over_a_zero_copy_import_alive_at_exit_does_not_abort():
    # torch frees an export's memory at exit without the GIL (the interpreter finalizing): the
    # import's owner (the source tensor) was decref'd there and Python aborted.
    import subprocess
    import sys
    import textwrap
    scripts = [textwrap.dedent("""
        import torch, xinhe
        t = torch.randn(16, 8)
        x = xinhe.from_dlpack(t, device="cpu:0", copy=False)  # wraps t's memory, holds t
        r = torch.from_dlpack(x)                              # alive at exit
        print("end of script", flush=True)
    """), textwrap.dedent("""
        import torch, xinhe
        t = torch.randn(16, 8)
        a, b = torch.randn(16, 12), torch.randn(12, 8)
        x = xinhe.from_dlpack(t, device="cpu:0", copy=False)
        r = xinhe.gemm(a, b, x)                               # a torch tensor over x
        print("end of script", flush=True)
    """)]
    for script in scripts:
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
            assert "Fatal Python error" not in r.stderr, r.stderr[-2000:]
            assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
            assert "end of script" in r.stdout


def _aligned(shape, dtype, offset_bytes, rng):
    """A C-contiguous numpy array of random values at an address that is offset_bytes past a
    multiple of 64 (cpu:0 imports 64-byte aligned data zero-copy, keeping its strides)."""
    count = int(np.prod(shape))
    item = np.dtype(dtype).itemsize
    raw = np.empty(count + 128 // item, dtype)
    start = next(i for i in range(128 // item) if (raw.ctypes.data + i * item) % 64 == offset_bytes)
    out = raw[start:start + count].reshape(shape)
    out[...] = rng.standard_normal(shape) + 0.5
    return out


@pytest.mark.parametrize("name", DEVICES)
def test_gemm_gathers_operands_without_a_unit_stride(name):
    # A[:, ::2] and friends: cpu:0 refused them (UNIMPLEMENTED) whenever the source was
    # 64-byte aligned, as torch CPU tensors always are; opencl:0 copied them.
    rng = np.random.default_rng(21)
    for align in (0, 16):
        base_a = _aligned((7, 12), np.float32, align, rng)
        base_b = _aligned((12, 15), np.float32, align, rng)
        cases = [(base_a[:, ::2], base_b[::2, ::3]),      # A (7, 6) strides (12, 2); B (6, 5)
                 (base_a[::2, 1::3], base_b[:4, ::3]),     # A (4, 4); B (4, 5)
                 (base_a.T[::2, ::2], base_b[:4, 1::2])]   # A (6, 4) both strides > 1; B (4, 7)
        for a, b in cases:
            want = a.astype(np.float64) @ b.astype(np.float64)
            got = xinhe.gemm(a, b, device=name)
            assert isinstance(got, np.ndarray)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            got = xinhe.gemm(ta, tb, device=name)
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    g = torch.Generator().manual_seed(22)
    a = torch.randn(3, 8, 10, generator=g)[:, ::2, ::2]   # batched, (3, 4, 5) strides (80, 20, 2)
    b = torch.randn(3, 10, 6, generator=g)[:, ::2, ::2]   # (3, 5, 3)
    got = xinhe.gemm(a, b, device=name)
    np.testing.assert_allclose(got.numpy(), (a.double() @ b.double()).numpy(), rtol=1e-5, atol=1e-5)
    xa = xinhe.from_dlpack(torch.randn(6, 10, generator=g), device=name)
    strided = xinhe.view(xa.buffer, xa.offset, xinhe.DType.f32, [6, 5], [10, 2])
    bt = torch.randn(5, 4, generator=g)
    got = xinhe.gemm(strided, bt, device=name)
    want = strided.numpy().astype(np.float64) @ bt.double().numpy()
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", DEVICES)
def test_gemm_writes_a_c_of_any_layout_whatever_its_alignment(name):
    # A transposed numpy C worked when its memory was unaligned (imported as a dense copy,
    # result copied back) and was refused when 64-byte aligned (zero-copy, strides kept).
    rng = np.random.default_rng(23)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    ab = a.astype(np.float64) @ b.astype(np.float64)
    for align in (0, 16):
        for beta in (0.0, 0.5):
            c = _aligned((3, 4), np.float32, align, rng)
            before = c.astype(np.float64)
            out = xinhe.gemm(a, b, c.T, beta=beta, device=name)
            np.testing.assert_allclose(c.T, ab + beta * before.T, rtol=1e-5, atol=1e-5)
            assert np.shares_memory(out, c)
            # Every other column of a wider C (neither last stride 1), with a sentinel between.
            wide = _aligned((4, 6), np.float32, align, rng)
            wide[:, 1::2] = -7.0
            ref = ab + beta * wide[:, ::2].astype(np.float64)
            xinhe.gemm(a, b, wide[:, ::2], beta=beta, device=name)
            np.testing.assert_allclose(wide[:, ::2], ref, rtol=1e-5, atol=1e-5)
            assert (wide[:, 1::2] == -7.0).all()
    ct = torch.from_numpy(rng.standard_normal((3, 4)).astype(np.float32)).clone()
    before = ct.double()
    xinhe.gemm(torch.from_numpy(a), torch.from_numpy(b), ct.t(), beta=1.0, device=name)
    np.testing.assert_allclose(ct.t().numpy(), ab + before.t().numpy(), rtol=1e-5, atol=1e-5)
    # An xinhe.Array C that is a transposed view of a buffer: written through the view.
    host = rng.standard_normal((3, 4)).astype(np.float32)
    buf = xinhe.asarray(host, device=name)
    view = xinhe.view(buf.buffer, buf.offset, xinhe.DType.f32, [4, 3], [1, 4])
    out = xinhe.gemm(xinhe.asarray(a, device=name), b, view, beta=2.0, device=name)
    assert out is view
    np.testing.assert_allclose(buf.numpy().T, ab + 2.0 * host.T.astype(np.float64), rtol=1e-5, atol=1e-5)
    # bf16 moves through the write-back as bit patterns.
    hb = torch.from_numpy(host).bfloat16()
    bbuf = xinhe.asarray(hb, device=name)
    bview = xinhe.view(bbuf.buffer, bbuf.offset, xinhe.DType.bf16, [4, 3], [1, 4])
    xinhe.gemm(torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16(), bview, device=name)
    got = torch.from_dlpack(xinhe.from_dlpack_host(xinhe.asarray(bbuf, device="cpu:0"))).t().double()
    np.testing.assert_allclose(got.numpy(), ab, rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("name", DEVICES)
def test_gemm_refuses_a_c_whose_batches_overlap_or_lack_the_batch(name):
    # gemm replaced a batch stride of 0 by m*n and wrote batches 1.. past the view, as it did
    # for a 2-D C with batched A and B.
    dev = xinhe.device(name)
    rng = np.random.default_rng(24)
    m, n, k, batch = 2, 3, 4, 3
    a = rng.standard_normal((batch, m, k)).astype(np.float32)
    b = rng.standard_normal((batch, k, n)).astype(np.float32)
    first = rng.standard_normal(m * n).astype(np.float32)
    for shape, strides in (([batch, m, n], [0, n, 1]), ([batch, m, n], [1, n, 1]), ([m, n], [n, 1]),
                           ([1, m, n], [m * n, n, 1])):
        buf = xinhe.asarray(np.concatenate([first, np.full((batch - 1) * m * n, -7.0, np.float32)]),
                            device=dev)
        c = xinhe.view(buf.buffer, 0, xinhe.DType.f32, shape, strides)
        with pytest.raises(xinhe.Error) as info:
            xinhe.gemm(a, b, c, device=dev)
        assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT, info.value
        assert "overlap" in info.value.message or "make it (3, 2, 3)" in info.value.message
        after = buf.numpy()
        assert np.array_equal(after[:m * n], first), shape  # nothing written, in the view
        assert (after[m * n:] == -7.0).all(), shape          # or past it
    # The same refusal for numpy and torch C, which are left as they were.
    tc = torch.full((1, m, n), 5.0).expand(batch, m, n)
    with pytest.raises(xinhe.Error, match="batches overlap") as info:
        xinhe.gemm(a, b, tc, device=dev)
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT
    assert torch.equal(tc, torch.full((batch, m, n), 5.0))
    c2 = np.full((m, n), 5.0, np.float32)
    with pytest.raises(xinhe.Error, match="make it") as info:
        xinhe.gemm(a, b, c2, device=dev)
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT
    assert (c2 == 5.0).all()
    # A C with its own batch stride (here 2*m*n: every other matrix) is written where it says.
    big = np.full((2 * batch, m, n), -7.0, np.float32)
    xinhe.gemm(a, b, big[::2], device=dev)
    np.testing.assert_allclose(big[::2], a.astype(np.float64) @ b.astype(np.float64), rtol=1e-5, atol=1e-5)
    assert (big[1::2] == -7.0).all()


@pytest.mark.parametrize("name", DEVICES)
def test_host_copies_refuse_a_non_contiguous_destination(name):
    # nanobind converted such a destination to a temporary: the copy landed there, silently.
    dev = xinhe.device(name)
    src = np.random.default_rng(25).standard_normal((3, 4)).astype(np.float32) + 1.0
    x = xinhe.asarray(src, device=dev)
    s = dev.create_stream()
    for dst in (np.zeros((4, 3), np.float32).T, np.zeros((3, 8), np.float32)[:, ::2]):
        with pytest.raises(xinhe.Error, match="C-contiguous") as info:
            x.copy_to(dst)
        assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT
        assert (dst == 0).all()
    flat = np.zeros(24, np.float32)[::2]
    with pytest.raises(xinhe.Error, match="C-contiguous") as info:
        s.copy_to_host(flat, x.buffer)
    assert info.value.code == xinhe.StatusCode.INVALID_ARGUMENT
    with pytest.raises(xinhe.Error, match="C-contiguous"):
        x.copy_to(torch.zeros(4, 3).t())
    # C-contiguous destinations, odd ones included, still work.
    out = np.zeros((3, 4), np.float32)
    x.copy_to(out)
    assert np.array_equal(out, src)
    one = np.zeros((1, 12), np.float32)[:, :]
    s.copy_to_host(one, x.buffer)
    assert np.array_equal(one.reshape(3, 4), src)
    t = torch.zeros(3, 4)
    x.copy_to(t)
    assert torch.equal(t, torch.from_numpy(src))
    # Sources of any layout are read in C order.
    fsrc = np.asfortranarray(src * 2)
    x.copy_from(fsrc)
    assert np.array_equal(x.numpy(), src * 2)
    s.copy_from_host(x.buffer, (src * 3).T.copy().T)
    assert np.array_equal(x.numpy(), src * 3)


def test_empty_array_on_a_device_without_host_addresses_exports_as_non_empty_ones():
    # An empty opencl:0 array exported a capsule on kDLExtDev that no consumer could read.
    for name in DEVICES:
        full = xinhe.empty([2, 4], xinhe.DType.f32, xinhe.device(name))
        empty = xinhe.empty([0, 4], xinhe.DType.f32, xinhe.device(name))
        if full.__dlpack_device__()[0] == 1:  # host memory: zero-copy for both
            assert np.from_dlpack(empty).shape == (0, 4)
            assert torch.from_dlpack(empty).shape == (0, 4)
            continue
        for arr in (full, empty):
            with pytest.raises(BufferError, match="not host-addressable.*copy") as info:
                np.from_dlpack(arr)
            with pytest.raises(BufferError, match="not host-addressable"):
                torch.from_dlpack(arr)
            with pytest.raises(BufferError, match="not host-addressable"):
                arr.__dlpack__()
            assert "numpy.from_dlpack(a, device='cpu', copy=True)" in str(info.value)
        assert np.from_dlpack(empty, device="cpu", copy=True).shape == (0, 4)
        assert torch.from_dlpack(xinhe.from_dlpack_host(empty)).shape == (0, 4)
