# A stand-in for PyTorch, only for testing xinhe-bench's PyTorch peer (torch_peer.py) where
# torch is not installed: the calls the peer makes (empty, data_ptr, transpose, matmul with
# out=, scaled_dot_product_attention), computed in plain Python in float64 and stored in the
# tensor's dtype (f32, f16, bf16 with round-to-nearest-even). Slow; tiny shapes only. Its
# version string says it is a fake, and the bench's test checks that it reports it.
# XINHE_FAKE_TORCH_HANG=FILE: matmul writes its pid to FILE and hangs, as a slow PyTorch call
# does (for the Ctrl-C test).
# XINHE_FAKE_TORCH_NOISE=1: every matmul but the first two sleeps 50 ms, as calls do on a
# busy machine (for the test of the bench's noisy flag: median far above the fastest run).
import ctypes
import math
import os
import struct
import time

__version__ = "0.0+fake-for-xinhe-bench-tests"


class dtype:
    def __init__(self, name, size):
        self.name = name
        self.size = size


float32 = dtype("f32", 4)
float16 = dtype("f16", 2)
bfloat16 = dtype("bf16", 2)
_threads = [1]


def set_num_threads(n):
    _threads[0] = int(n)


def get_num_threads():
    return _threads[0]


def _decode(dt, raw):
    if dt is float32:
        return struct.unpack("<f", raw)[0]
    if dt is float16:
        return struct.unpack("<e", raw)[0]
    return struct.unpack("<f", b"\0\0" + raw)[0]


def _encode(dt, value):
    if dt is float32:
        return struct.pack("<f", value)
    if dt is float16:
        return struct.pack("<e", value)
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    if (bits & 0x7FFFFFFF) > 0x7F800000:
        return struct.pack("<H", (bits >> 16) | 0x40)
    bits += 0x7FFF + ((bits >> 16) & 1)
    return struct.pack("<H", (bits >> 16) & 0xFFFF)


class Tensor:
    def __init__(self, shape, dt, storage=None, strides=None, offset=0):
        self.shape = tuple(shape)
        self.dtype = dt
        n = 1
        for s in self.shape:
            n *= s
        self._n = n
        self._storage = storage if storage is not None else (ctypes.c_uint8 * (n * dt.size))()
        if strides is None:
            strides, step = [], 1
            for s in reversed(self.shape):
                strides.insert(0, step)
                step *= s
        self._strides = tuple(strides)
        self._offset = offset

    def numel(self):
        return self._n

    def element_size(self):
        return self.dtype.size

    def data_ptr(self):
        return ctypes.addressof(self._storage) + self._offset * self.dtype.size

    def _index(self, idx):
        return self._offset + sum(i * s for i, s in zip(idx, self._strides))

    def get(self, idx):
        at = self._index(idx) * self.dtype.size
        return _decode(self.dtype, bytes(self._storage[at:at + self.dtype.size]))

    def set(self, idx, value):
        at = self._index(idx) * self.dtype.size
        raw = _encode(self.dtype, value)
        for i, b in enumerate(raw):
            self._storage[at + i] = b

    def transpose(self, d0, d1):
        shape, strides = list(self.shape), list(self._strides)
        shape[d0], shape[d1] = shape[d1], shape[d0]
        strides[d0], strides[d1] = strides[d1], strides[d0]
        return Tensor(shape, self.dtype, self._storage, strides, self._offset)

    def __getitem__(self, i):
        return Tensor(self.shape[1:], self.dtype, self._storage, self._strides[1:],
                      self._offset + i * self._strides[0])

    def contiguous(self):
        out = Tensor(self.shape, self.dtype)
        for idx in _indices(self.shape):
            out.set(idx, self.get(idx))
        return out


def _indices(shape):
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _indices(shape[1:]):
            yield (i,) + rest


def empty(shape, dtype=float32):
    return Tensor(shape, dtype)


_matmul_calls = [0]


def matmul(a, b, out):
    hang = os.environ.get("XINHE_FAKE_TORCH_HANG")
    if hang:
        with open(hang, "w") as f:
            f.write("%d\n" % os.getpid())
        time.sleep(600)
    if os.environ.get("XINHE_FAKE_TORCH_NOISE") == "1":
        _matmul_calls[0] += 1
        if _matmul_calls[0] > 2:
            time.sleep(0.05)
    batched = len(a.shape) == 3
    batches = a.shape[0] if batched else 1
    m, k = a.shape[-2], a.shape[-1]
    n = b.shape[-1]
    for t in range(batches):
        pre = (t,) if batched else ()
        for i in range(m):
            for j in range(n):
                s = 0.0
                for p in range(k):
                    s += a.get(pre + (i, p)) * b.get(pre + (p, j))
                out.set(pre + (i, j), s)
    return out


def _sdpa(q, k, v, is_causal=False, enable_gqa=False):
    bsz, hq, sq, d = q.shape
    hkv, skv = k.shape[1], k.shape[2]
    if hq != hkv and not enable_gqa:
        raise RuntimeError("Hq != Hkv needs enable_gqa")
    out = Tensor(q.shape, q.dtype)
    scale = 1.0 / math.sqrt(d)
    for b in range(bsz):
        for h in range(hq):
            hk = h // (hq // hkv)
            for i in range(sq):
                seen = i + 1 if is_causal else skv  # top-left, as PyTorch
                s = [sum(q.get((b, h, i, x)) * k.get((b, hk, j, x)) for x in range(d)) * scale
                     for j in range(seen)]
                mx = max(s)
                p = [math.exp(x - mx) for x in s]
                den = sum(p)
                for x in range(d):
                    out.set((b, h, i, x), sum(p[j] * v.get((b, hk, j, x)) for j in range(seen)) / den)
    return out
