"""xinhe: one device API and one set of GEMM/attention kernels over pluggable chip backends.

The native binding (xinhe._core) mirrors the C API: devices, streams, events, buffers, typed
arrays on buffers, and the GEMM and attention ops with their describe -> check -> workspace ->
run shape. This module adds the one-call forms (`gemm`, `attention`) that accept numpy arrays,
torch CPU tensors and xinhe arrays alike, and DLPack import (`from_dlpack`, `asarray`).

Errors from the C API raise `xinhe.Error` with `.code` (a `StatusCode`), `.backend`, `.call`
and `.message`. The PyTorch device lives in `xinhe.torch` (imported on demand).
"""

from __future__ import annotations

import math
import sys
from typing import Any, Optional, Sequence, Union

from . import _core
from ._core import (  # noqa: F401  (re-exported API)
    Array,
    Attention,
    BackendInfo,
    Buffer,
    Device,
    DeviceProperties,
    DType,
    Error,
    Event,
    Gemm,
    Stream,
    StatusCode,
    backends,
    default_device,
    devices,
    dtype_size,
    empty,
    view,
)

__version__ = _core.version()

__all__ = [
    "Array", "Attention", "BackendInfo", "Buffer", "Device", "DeviceProperties", "DType",
    "Error", "Event", "Gemm", "Stream", "StatusCode", "asarray", "attention", "backends",
    "default_device", "device", "devices", "dtype_size", "empty", "from_dlpack", "gemm",
    "view", "zeros",
]

DeviceLike = Union[Device, str, None]


def device(name: DeviceLike = None) -> Device:
    """The device named "cpu:0", "opencl:0"...; a Device passes through; None: the default."""
    if name is None:
        return _core.default_device()
    if isinstance(name, Device):
        return name
    return _core.device(str(name))


_device = device  # for functions whose `device` parameter shadows it


def zeros(shape: Sequence[int], dtype: DType = DType.f32, device: DeviceLike = None) -> Array:
    """A contiguous array of zeros on device."""
    dev = _device(device)
    out = _core.empty(list(shape), dtype, dev)
    if out.buffer.size:
        stream = dev.create_stream()
        stream.fill(out.buffer, 0, 4 if out.buffer.size % 4 == 0 else 1)
        stream.synchronize()
    return out


def _is_torch_tensor(obj: Any) -> bool:
    return type(obj).__module__.startswith("torch") and hasattr(obj, "dtype") and hasattr(obj, "device")


def _host_view(obj: Any) -> Any:
    """A DLPack-capable CPU object for numpy arrays, torch CPU tensors and buffer-protocol data."""
    if _is_torch_tensor(obj):
        if obj.device.type != "cpu":
            raise _error(StatusCode.INVALID_ARGUMENT,
                         f"a torch tensor on {obj.device} cannot be imported; move it to the CPU first, "
                         "or use xinhe.torch for tensors on the xinhe device")
        return obj.detach()
    if _read_only(obj):
        # Read-only numpy data (np.broadcast_to, np.frombuffer, frozen arrays): device memory is
        # writable, so the import works on a private writable copy (np.ascontiguousarray would
        # hand a contiguous read-only array back as it is).
        import numpy as np
        return np.array(memoryview(obj) if not hasattr(obj, "flags") else obj, order="C", copy=True)
    return obj


def _read_only(obj: Any) -> bool:
    """Whether obj is data xinhe cannot take writable: a read-only numpy array, or a read-only
    buffer-protocol object (bytes, a read-only memoryview) without __dlpack__."""
    flags = getattr(obj, "flags", None)
    if flags is not None:
        return not getattr(flags, "writeable", True)
    if hasattr(obj, "__dlpack__") or _is_torch_tensor(obj):
        return False
    try:
        return memoryview(obj).readonly
    except TypeError:
        return False


def _writable_copy(obj: Any) -> Any:
    """A private writable host copy of an object nanobind cannot take as writable data: one
    whose __dlpack__ exports read-only (only versioned DLPack can say so) or read-only buffer
    data. numpy reads both; bf16, which numpy lacks, goes through torch."""
    import numpy as np
    if hasattr(obj, "__dlpack__"):
        try:
            return np.array(np.from_dlpack(obj), order="C", copy=True)
        except (TypeError, BufferError, RuntimeError):
            import torch
            return torch.from_dlpack(obj).clone()
    return np.array(memoryview(obj), order="C", copy=True)


def _import_host(obj: Any, target: Device, copy: Optional[bool]) -> Array:
    try:
        return _core._import_host(obj, target, copy)
    except TypeError as e:
        # nanobind refuses data it cannot take writable (read-only DLPack, which its legacy
        # capsules cannot mark, or read-only buffers): such data is imported as a copy.
        if not str(e).startswith("_import_host(): incompatible function arguments"):
            raise
    if copy is False:
        raise BufferError("the data is read-only (or not writable through DLPack) and xinhe "
                          "arrays are writable, so it cannot be shared; pass copy=True (or "
                          "copy=None) to copy")
    return _core._import_host(_writable_copy(obj), target, True)


def _error(code: StatusCode, message: str) -> Error:
    """An xinhe.Error raised by the Python layer: backend "" and call "xinhe.<function>", the
    public function of this module the caller called."""
    frame, call = sys._getframe(1), "xinhe"
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        if not frame.f_code.co_name.startswith("_"):
            call = "xinhe." + frame.f_code.co_name
        frame = frame.f_back
    err = Error(f"{code.name}: {message}")
    err.code, err.backend, err.call, err.message = code, "", call, message
    return err


def _check_importable(obj: Any) -> None:
    if hasattr(obj, "__dlpack__"):
        return
    try:
        memoryview(obj)
    except TypeError:
        raise TypeError(f"cannot import a {type(obj).__name__}: pass a numpy array, a torch CPU "
                        "tensor, an xinhe.Array or another object with __dlpack__ or the buffer "
                        "protocol (xinhe.asarray copies nested lists)") from None


def from_dlpack(obj: Any, device: DeviceLike = None, copy: Optional[bool] = None) -> Array:
    """An xinhe array over a DLPack-capable object's data (numpy, torch CPU, another xinhe array).

    Host data lands on `device` (default "cpu:0"). Where that device's memory is host memory
    (cpu:0) and the data meets its alignment, the array shares the memory (zero-copy) and keeps
    the source alive; otherwise, and for read-only data, it is copied. copy=False makes a needed
    copy an error (BufferError), copy=True always copies.
    """
    if isinstance(obj, Array):
        target = _device(device) if device is not None else obj.device
        if target == obj.device and not copy:
            return obj
        if copy is False:
            raise BufferError(f"moving an array from {obj.device.name} to {target.name} needs a copy")
        return asarray(obj, device=target)
    target = _device(device if device is not None else "cpu:0")
    if copy is False and _read_only(obj):
        raise BufferError("the data is read-only and xinhe arrays are writable, so it cannot be "
                          "shared; pass copy=True (or copy=None) to copy")
    _check_importable(obj)
    return _import_host(_host_view(obj), target, copy)


def asarray(obj: Any, dtype: Optional[DType] = None, device: DeviceLike = None) -> Array:
    """A new xinhe array holding a copy of obj (numpy, torch CPU, nested lists, xinhe array)."""
    target = _device(device)
    if isinstance(obj, Array):
        if dtype is not None and dtype != obj.dtype:
            raise _error(StatusCode.INVALID_ARGUMENT, "asarray does not convert dtypes of xinhe arrays")
        return _core._import_host(_host_copy(obj), target, True)
    obj = _host_view(obj)
    if dtype is not None and _is_torch_tensor(obj):
        # torch converts every dtype xinhe has (numpy has no bf16).
        import torch
        obj = obj.to({DType.f32: torch.float32, DType.f16: torch.float16,
                      DType.bf16: torch.bfloat16, DType.f64: torch.float64}[dtype])
        dtype = None
    if dtype is not None or not (hasattr(obj, "__dlpack__") or hasattr(obj, "__array_interface__")):
        import numpy as np
        np_dtype = {DType.f32: np.float32, DType.f16: np.float16, DType.f64: np.float64,
                    None: None}.get(dtype, "unsupported")
        if isinstance(np_dtype, str):
            raise _error(StatusCode.INVALID_ARGUMENT, f"asarray cannot convert to {dtype} through numpy")
        obj = np.asarray(obj, dtype=np_dtype if np_dtype is not None else np.float32)
    return _import_host(obj, target, True)


def _host_copy(a: Array) -> Any:
    """A host copy of any array (a torch CPU tensor for bf16, which numpy lacks)."""
    if a.dtype == DType.bf16:
        import torch
        return torch.from_dlpack(from_dlpack_host(a)).clone()
    return _to_numpy_copy(a)


def _to_numpy_copy(a: Array) -> Any:
    import numpy as np
    if a.dtype == DType.bf16:
        raise _error(StatusCode.UNIMPLEMENTED, "numpy has no bf16; use torch.from_dlpack on cpu:0 arrays")
    np_dtype = {DType.f32: np.float32, DType.f16: np.float16, DType.f64: np.float64}[a.dtype]
    out = np.empty(a.shape, dtype=np_dtype)
    if out.size == 0:
        return out
    if a.is_contiguous:
        a.copy_to(out)
        return out
    # A strided view: copy the elements it spans, then gather them on the host.
    span = 1 + sum((n - 1) * st for n, st in zip(a.shape, a.strides))
    flat = np.empty(span, dtype=np_dtype)
    _core.view(a.buffer, a.offset, a.dtype, [span], [1]).copy_to(flat)
    out[...] = np.lib.stride_tricks.as_strided(
        flat, shape=a.shape, strides=[st * flat.itemsize for st in a.strides])
    return out


def _numpy(self: Array) -> Any:
    """A numpy copy of the array (any device)."""
    return _to_numpy_copy(self)


Array.numpy = _numpy  # type: ignore[attr-defined]


# ---- One-call ops ------------------------------------------------------------------------------

def _stage(objs: Sequence[Any], dev: DeviceLike) -> tuple[Device, list[Array], str]:
    """Puts every operand on one device; returns it, the arrays, and what to hand back: the kind
    of the first operand (A, or q), as documented."""
    first = objs[0]
    kind = "xinhe" if isinstance(first, Array) else "torch" if _is_torch_tensor(first) else "numpy"
    target = None
    if dev is not None:
        target = device(dev)
    else:
        for o in objs:
            if isinstance(o, Array):
                target = o.device
                break
    if target is None:
        target = default_device()
    arrays = []
    for o in objs:
        if o is None:
            arrays.append(None)
        elif isinstance(o, Array):
            arrays.append(o if o.device == target else asarray(o, device=target))
        else:
            arrays.append(from_dlpack(o, device=target))
    return target, arrays, kind


def _hand_back(out: Array, kind: str) -> Any:
    if kind == "xinhe":
        return out
    host = from_dlpack_host(out)
    if kind == "torch":
        import torch
        return torch.from_dlpack(host)
    import numpy as np
    return np.from_dlpack(host)


def from_dlpack_host(a: Array) -> Any:
    """An object exporting a's data as CPU DLPack: a itself where it is host memory, else a copy."""
    if a.__dlpack_device__()[0] == 1:
        return a

    class _HostCopy:
        def __init__(self, array: Array) -> None:
            self._array = array

        def __dlpack_device__(self):
            return (1, 0)

        def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
            return self._array.__dlpack__(max_version=max_version, dl_device=(1, 0), copy=True)

    return _HostCopy(a)


def _layout(shape: list[int], strides: list[int], what: str) -> tuple[Optional[tuple[int, int, int, bool, int, int]], bool]:
    """((batch, rows, cols, transposed, ld, batch_stride), rows_overlap) of a 2-D or 3-D
    operand; the layout is None when neither of its last two dimensions is unit-stride (a
    GEMM cannot address it: sliced columns, say). Rows (or columns, if transposed) that
    overlap, as in an expanded torch tensor (stride 0), have no leading dimension."""
    if len(shape) not in (2, 3):
        raise _error(StatusCode.INVALID_ARGUMENT, f"{what} must be 2-D or 3-D, got {len(shape)}-D")
    if len(shape) == 2:
        shape, strides = [1] + shape, [0] + strides
    batch, rows, cols = shape
    rs, cs = strides[1], strides[2]
    if batch * rows * cols == 0:
        # An empty operand has no elements to address; numpy gives it strides (0, 0). Any
        # row-major layout describes it: ld = cols (at least 1, as the ops require).
        return (batch, rows, cols, False, max(cols, 1), 0), False
    if cs == 1 or cols == 1:
        transposed, step, length, lines = False, rs, cols, rows
    elif rs == 1 or rows == 1:
        transposed, step, length, lines = True, cs, rows, cols
    else:
        return None, False
    ld = step if lines > 1 else max(length, 1)
    return (batch, rows, cols, transposed, ld, strides[0] if batch > 1 else 0), lines > 1 and step < length


def _may_overlap(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """Whether two elements of a strided view may share memory: False when, taking the
    dimensions by increasing |stride|, each stride steps past everything the smaller ones span
    (torch's and numpy's dense, transposed, sliced and batched layouts all do)."""
    if any(n == 0 for n in shape):
        return False
    extent = 0  # elements spanned by the dimensions taken so far, minus one
    for n, st in sorted(((n, abs(st)) for n, st in zip(shape, strides) if n > 1), key=lambda d: d[1]):
        if st <= extent:
            return True
        extent += (n - 1) * st
    return False


def _matrix_layout(a: Array, what: str) -> tuple[Array, tuple[int, int, int, bool, int, int]]:
    """(a, its _layout) for an input. One a GEMM cannot address as it is (neither of its last
    two dimensions unit-stride, or rows that overlap) is replaced by a dense copy on its device
    first, whatever the device (a zero-copy import on cpu:0 keeps the source's strides)."""
    layout, overlap = _layout(list(a.shape), list(a.strides), what)
    if layout is None or overlap or min(a.strides, default=0) < 0:
        a = asarray(a, device=a.device)
        layout, _ = _layout(list(a.shape), list(a.strides), what)
    return a, layout


def _strides_of(c: Any) -> Optional[list[int]]:
    """Element strides of an xinhe array, torch tensor or numpy array; None for anything else."""
    if isinstance(c, Array):
        return list(c.strides)
    if _is_torch_tensor(c):
        return list(c.stride())
    if hasattr(c, "strides") and hasattr(getattr(c, "dtype", None), "itemsize"):
        return [s // c.dtype.itemsize for s in c.strides]  # numpy: bytes
    return None


def _refuse_overlapping_output(c: Any) -> None:
    """An output whose elements overlap (rows, as in an expanded tensor, or batches, as with a
    batch stride of 0) cannot hold a result: refused before it is staged (a staged copy would
    be dense, and the results would be lost or fail on the way back)."""
    strides = _strides_of(c)
    if strides is None or len(c.shape) not in (2, 3):
        return
    shape = list(c.shape)
    layout, overlap = _layout(shape, [abs(s) for s in strides], "C")
    if overlap:
        raise _error(StatusCode.INVALID_ARGUMENT,
                     f"C has strides {tuple(strides)}: its rows overlap, so it cannot hold the result")
    if _may_overlap(shape, strides):
        part = "batches" if len(shape) == 3 and not _may_overlap(shape[1:], strides[1:]) else "elements"
        raise _error(StatusCode.INVALID_ARGUMENT,
                     f"C has shape {tuple(shape)} and strides {tuple(strides)}: its {part} overlap, "
                     "so it cannot hold the result")


def _write_into_view(dst: Array, src: Array) -> None:
    """Writes the dense array src into the strided, non-overlapping view dst of the same shape
    and dtype, on any device: the bytes the view spans are read, the elements scattered into
    them on the host and the span written back (bf16 moves as 16-bit patterns)."""
    import numpy as np
    raw = DType.f16 if dst.dtype == DType.bf16 else dst.dtype  # same size: bytes, no conversion
    np_dtype = {DType.f32: np.float32, DType.f16: np.float16, DType.f64: np.float64}[raw]
    span = 1 + sum((n - 1) * st for n, st in zip(dst.shape, dst.strides))
    whole = _core.view(dst.buffer, dst.offset, raw, [span], [1])
    flat = np.empty(span, np_dtype)
    whole.copy_to(flat)
    values = np.empty(tuple(src.shape), np_dtype)
    _core.view(src.buffer, src.offset, raw, list(src.shape), list(src.strides)).copy_to(values)
    np.lib.stride_tricks.as_strided(
        flat, shape=tuple(dst.shape), strides=[st * flat.itemsize for st in dst.strides])[...] = values
    whole.copy_from(flat)


def gemm(a: Any, b: Any, c: Any = None, *, alpha: float = 1.0, beta: float = 0.0,
         out_dtype: Optional[DType] = None, device: DeviceLike = None,
         stream: Optional[Stream] = None) -> Any:
    """C = alpha * A @ B + beta * C for 2-D or batched 3-D operands, on one xinhe device.

    Operands may be numpy arrays, torch CPU tensors or xinhe arrays, and may be transposed or
    sliced views (A.T, A[:, ::2]): a layout the GEMM cannot address is gathered into a dense
    copy first. Without c a new C is made (beta must then be 0). A given c may be any view
    whose elements do not overlap, transposed or strided included, on every device alike: a C
    that is not row-major is computed in a dense copy and the result written back into the
    view. c must have A's and B's batch: (batch, m, n) when either is 3-D with batch > 1 (a
    2-D c then, or one whose batches overlap, raises INVALID_ARGUMENT). The result comes back
    as the kind of A (numpy, torch or xinhe.Array); a numpy or torch c is written in place and
    handed back. device: where to run (default: the device of an xinhe operand, else
    xinhe.default_device()).
    """
    if c is None and beta != 0.0:
        raise _error(StatusCode.INVALID_ARGUMENT, "beta != 0 needs c")
    _refuse_overlapping_output(c)
    dev, (xa, xb, xc), kind = _stage([a, b, c], device)
    xa, (ba, m, k, ta, lda, sa) = _matrix_layout(xa, "A")
    xb, (bb, k2, n, tb, ldb, sb) = _matrix_layout(xb, "B")
    if k != k2:
        raise _error(StatusCode.INVALID_ARGUMENT, f"inner dimensions differ: A is (.., {m}, {k}), B is (.., {k2}, {n})")
    if xa.dtype != xb.dtype:
        raise _error(StatusCode.INVALID_ARGUMENT, f"A is {xa.dtype.name}, B is {xb.dtype.name}")
    batch = max(ba, bb)
    if ba not in (1, batch) or bb not in (1, batch):
        raise _error(StatusCode.INVALID_ARGUMENT, f"batch sizes {ba} and {bb} do not broadcast")
    batched = xa.ndim == 3 or xb.ndim == 3
    c_dtype = out_dtype if out_dtype is not None else (xc.dtype if xc is not None else xa.dtype)
    if xc is None:
        xc = empty([batch, m, n] if batched else [m, n], c_dtype, dev)
    layout, _ = _layout(list(xc.shape), list(xc.strides), "C")
    cb, cm, cn = ([1] + list(xc.shape))[-3:]
    if (cm, cn) != (m, n) or cb != batch:
        want = f"({batch}, {m}, {n})" if batch > 1 else f"({m}, {n}) or (1, {m}, {n})"
        raise _error(StatusCode.INVALID_ARGUMENT,
                     f"C has shape {tuple(xc.shape)}: A {tuple(xa.shape)} and B {tuple(xb.shape)} make it {want}")
    c_view = None
    if layout is None or layout[3]:
        # Not row-major (transposed, or neither last dimension unit-stride): computed in a
        # dense copy (holding C's values where beta reads them) and written back below.
        c_view = xc
        xc = asarray(xc, device=dev) if beta != 0.0 else empty(list(xc.shape), xc.dtype, dev)
        layout, _ = _layout(list(xc.shape), list(xc.strides), "C")
    _, _, _, _, ldc, sc = layout
    op = Gemm(dev, xa.dtype, m, n, k, c_dtype=c_dtype, trans_a=ta, trans_b=tb, batch=batch, lda=lda,
              ldb=ldb, ldc=ldc, stride_a=sa if ba > 1 else 0, stride_b=sb if bb > 1 else 0,
              stride_c=sc if batch > 1 else m * n)
    op.check()
    s = stream if stream is not None else dev.create_stream()
    ws = dev.alloc(op.workspace_size) if op.workspace_size else None
    op.run(s, xa, xb, xc, alpha=alpha, beta=beta, workspace=ws)
    s.synchronize()
    if c_view is not None:
        if xc.size:
            _write_into_view(c_view, xc)
        xc = c_view
    if c is not None and not isinstance(c, Array):
        # C was imported: zero-copy (the result is already in the caller's memory) or copied
        # to the device, in which case the result is copied back into the caller's array.
        # c's own kind, which may differ from A's.
        c_is_torch = _is_torch_tensor(c)
        pointer = c.data_ptr() if c_is_torch else c.ctypes.data
        if xc.buffer.host_pointer is None or xc.buffer.host_pointer + xc.offset != pointer:
            if c_is_torch:
                import torch
                c.copy_(torch.from_dlpack(from_dlpack_host(xc)))
            else:
                import numpy as np
                np.copyto(c, np.from_dlpack(from_dlpack_host(xc)))
        return c
    return _hand_back(xc, kind)


def attention(q: Any, k: Any, v: Any, *, causal: bool = False, scale: Optional[float] = None,
              return_lse: bool = False, device: DeviceLike = None,
              stream: Optional[Stream] = None) -> Any:
    """O = softmax(scale * Q K^T + mask) V for [B, H, S, D] operands (any strides).

    Hq must be a multiple of Hkv (grouped-query attention). causal masks bottom-right aligned
    (query i sees keys j <= i + Skv - Sq). Operands: numpy, torch CPU or xinhe arrays; the
    result comes back as the kind of q, with the f32 log-sum-exp [B, H, Sq] when return_lse.
    """
    dev, (xq, xk, xv), kind = _stage([q, k, v], device)
    for name, a in (("q", xq), ("k", xk), ("v", xv)):
        if a.ndim != 4:
            raise _error(StatusCode.INVALID_ARGUMENT, f"{name} must be [B, H, S, D], got {a.ndim}-D")
    b, hq, sq, d = xq.shape
    bk, hkv, skv, dk = xk.shape
    if (bk, dk) != (b, d) or tuple(xv.shape) != tuple(xk.shape):
        raise _error(StatusCode.INVALID_ARGUMENT,
                     f"shapes q {tuple(xq.shape)}, k {tuple(xk.shape)}, v {tuple(xv.shape)} do not match")
    o = empty([b, hq, sq, d], xq.dtype, dev)
    lse = empty([b, hq, sq], DType.f32, dev) if return_lse else None
    op = Attention(dev, xq.dtype, b, hq, hkv, sq, skv, d,
                   scale=scale if scale is not None else 1.0 / math.sqrt(d) if d else 1.0,
                   causal=causal, with_lse=return_lse, q_strides=list(xq.strides),
                   k_strides=list(xk.strides), v_strides=list(xv.strides))
    op.check()
    s = stream if stream is not None else dev.create_stream()
    ws = dev.alloc(op.workspace_size) if op.workspace_size else None
    op.run(s, xq, xk, xv, o, lse=lse, workspace=ws)
    s.synchronize()
    if return_lse:
        return _hand_back(o, kind), _hand_back(lse, kind)
    return _hand_back(o, kind)
