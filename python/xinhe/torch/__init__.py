"""xinhe.torch: every xinhe device as a PyTorch device named "xinhe".

Importing this module loads libxinhe_torch.so (PyTorch's PrivateUse1 backend on xinhe: an
allocator on xinhe buffers, a device guard, streams and events, copies, views, fill, and the
mm / addmm / bmm / scaled_dot_product_attention kernels on xinhe's GEMM and attention ops),
renames PrivateUse1 to "xinhe" and registers `torch.xinhe`.

    import torch, xinhe.torch
    x = torch.randn(4, 8, device="xinhe:0")            # xinhe.devices()[0]
    y = torch.randn(8, 2).to(xinhe.torch.device("opencl:0"))

`torch.device("xinhe", i)` is `xinhe.devices()[i]`. Every other ATen op runs through a CPU
fallback; `stats()` counts each op by where it ran, XINHE_VERBOSE=dispatch logs every call,
and `strict("all")` / `strict("routed")` raise on a fallback (any op / the routed ones).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Iterator, Optional, Union

import torch

import xinhe as _xinhe

_HERE = os.path.dirname(os.path.abspath(__file__))
_LIBRARY = os.path.join(_HERE, "libxinhe_torch.so")


def _check_torch_version() -> None:
    path = os.path.join(_HERE, "torch_version.txt")
    if not os.path.exists(path):
        raise ImportError("xinhe was built without xinhe.torch (XINHE_PYTHON_TORCH=OFF)")
    built = open(path).read().strip()
    running = torch.__version__.split("+")[0]
    if built != running:
        raise ImportError(f"xinhe.torch was built against torch {built}, but torch {running} is "
                          f"installed; reinstall xinhe (pip install .) or install torch=={built}")


_check_torch_version()
if "xinhe_torch" not in dir(torch.ops) or not hasattr(torch.ops.xinhe_torch, "op_names"):
    torch.ops.load_library(_LIBRARY)
if torch._C._get_privateuse1_backend_name() != "xinhe":
    torch.utils.rename_privateuse1_backend("xinhe")

_ops = torch.ops.xinhe_torch


class _DeviceModule:
    """torch.xinhe: the device module PyTorch looks up for the "xinhe" device type."""

    @staticmethod
    def is_available() -> bool:
        return len(_ops.device_names()) > 0

    @staticmethod
    def device_count() -> int:
        return len(_ops.device_names())

    @staticmethod
    def current_device() -> int:
        return torch.accelerator.current_device_index()  # the device guard's thread-local index

    @staticmethod
    def set_device(index: Union[int, str, torch.device]) -> None:
        torch.accelerator.set_device_index(index if isinstance(index, int) else torch.device(index).index)

    @staticmethod
    def synchronize(index: Optional[int] = None) -> None:
        _ops.synchronize(-1 if index is None else int(index))

    @staticmethod
    def is_initialized() -> bool:
        return True

    @staticmethod
    def _is_in_bad_fork() -> bool:
        return False

    @staticmethod
    def manual_seed(seed: int) -> None:
        """Seeds what xinhe's random ops draw from: they run on the CPU (fallback) with the CPU
        generator, so this seeds torch.default_generator (as torch.manual_seed does)."""
        torch.default_generator.manual_seed(int(seed))

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        # One generator serves every xinhe device (the CPU's); torch.manual_seed calls this
        # after seeding it already.
        torch.default_generator.manual_seed(int(seed))

    @staticmethod
    def memory_allocated(device: Union[int, str, torch.device, None] = None) -> int:
        """Bytes of xinhe memory held by live tensors on the device (the current one by
        default), as torch.cuda.memory_allocated; no caching allocator, so nothing is reserved
        beyond this."""
        if device is None:
            index = torch.accelerator.current_device_index()
        elif isinstance(device, int):
            index = device
        else:
            d = torch.device(device)
            index = d.index if d.index is not None else torch.accelerator.current_device_index()
        return int(_ops.memory_allocated(index))

    @staticmethod
    def get_rng_state(device: Union[int, str, torch.device] = "xinhe") -> torch.Tensor:
        del device
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, device: Union[int, str, torch.device] = "xinhe") -> None:
        del device
        torch.set_rng_state(state)

    @staticmethod
    def get_amp_supported_dtype() -> list:
        return [torch.float16, torch.bfloat16]

    Stream = torch.Stream
    Event = torch.Event

    class device:
        """Context manager that makes a xinhe device current, as torch.cuda.device does (torch.load
        and Storage.to enter it to place what they create)."""

        def __init__(self, index: Union[int, str, torch.device, None]) -> None:
            if index is None or isinstance(index, int):
                self.index = index
            else:
                d = torch.device(index)
                if d.type != "xinhe":
                    raise ValueError(f"{d} is not a xinhe device")
                self.index = d.index
            self.previous: Optional[int] = None

        def __enter__(self) -> None:
            if self.index is not None and self.index >= 0:
                self.previous = torch.accelerator.current_device_index()
                torch.accelerator.set_device_index(self.index)

        def __exit__(self, *exc: object) -> None:
            if self.previous is not None:
                torch.accelerator.set_device_index(self.previous)


if not hasattr(torch, "xinhe"):
    torch._register_device_module("xinhe", _DeviceModule)
    torch.utils.generate_methods_for_privateuse1_backend(
        for_tensor=True, for_module=True, for_packed_sequence=True, for_storage=True)


def device(name: Union[str, int, "_xinhe.Device", None] = None) -> torch.device:
    """The torch device for a xinhe device name ("opencl:0"), index, xinhe.Device, or the default."""
    if isinstance(name, int):
        return torch.device("xinhe", name)
    dev = _xinhe.device(name)
    return torch.device("xinhe", dev.index)


def xinhe_device(d: Union[torch.device, str, int]) -> "_xinhe.Device":
    """The xinhe.Device behind a torch device of type "xinhe"; "xinhe" without an index is the
    current device (torch.xinhe.set_device), as for PyTorch's other devices."""
    d = torch.device(d) if not isinstance(d, int) else torch.device("xinhe", d)
    if d.type != "xinhe":
        raise ValueError(f"{d} is not a xinhe device")
    index = d.index if d.index is not None else torch.accelerator.current_device_index()
    all_devices = _xinhe.devices()
    if index >= len(all_devices):
        raise IndexError(f"{d}: device index {index} out of range; there are {len(all_devices)} "
                         f"xinhe devices ({', '.join(x.name for x in all_devices)})")
    return all_devices[index]


def devices() -> list[torch.device]:
    """Every xinhe device as a torch device, in xinhe.devices() order."""
    return [torch.device("xinhe", i) for i in range(len(_ops.device_names()))]


@dataclass
class OpStats:
    xinhe: int = 0
    fallback: int = 0
    xinhe_flops: float = 0.0
    fallback_flops: float = 0.0


@dataclass
class Stats:
    """Per-op counts since the last reset_stats(): where each ATen op ran, and FLOPs of the
    routed ops (mm, addmm, bmm, SDPA)."""

    ops: dict[str, OpStats] = field(default_factory=dict)

    @property
    def fallback_ops(self) -> list[str]:
        return sorted(name for name, s in self.ops.items() if s.fallback)

    @property
    def xinhe_ops(self) -> list[str]:
        return sorted(name for name, s in self.ops.items() if s.xinhe)

    @property
    def xinhe_flops(self) -> float:
        return sum(s.xinhe_flops for s in self.ops.values())

    @property
    def fallback_flops(self) -> float:
        return sum(s.fallback_flops for s in self.ops.values())

    def calls(self, where: str = "fallback") -> int:
        return sum(getattr(s, where) for s in self.ops.values())

    def table(self) -> str:
        lines = [f"{'op':58} {'xinhe':>7} {'fallback':>8} {'GFLOP xinhe':>12}"]
        for name in sorted(self.ops):
            s = self.ops[name]
            lines.append(f"{name:58} {s.xinhe:7d} {s.fallback:8d} {s.xinhe_flops / 1e9:12.4f}")
        return "\n".join(lines)


def stats() -> Stats:
    names = _ops.op_names()
    values = _ops.op_counts()
    out = Stats()
    for i, name in enumerate(names):
        x, f, xf, ff = values[4 * i: 4 * i + 4]
        out.ops[name] = OpStats(int(x), int(f), xf, ff)
    return out


def reset_stats() -> None:
    _ops.reset_counts()


@contextlib.contextmanager
def strict(mode: str = "all") -> Iterator[None]:
    """Raise on CPU fallbacks inside the block: "all" for any op, "routed" for the ops xinhe
    routes to its kernels (mm, addmm, bmm, SDPA) when they could not run there.

    The setting is process-wide on purpose, not per thread: the ops of a backward pass run on
    autograd's device threads, which a thread-local setting would miss. So while a block is
    active, fallbacks raise in every thread. Blocks nest and may interleave across threads:
    each registers its mode on entry and removes only its own on exit, and the mode in force
    is that of the block entered last among those still active (a nested strict("off")
    relaxes an outer block until it exits)."""
    token = _ops.strict_enter(mode)
    try:
        yield
    finally:
        _ops.strict_exit(token)


def synchronize(d: Union[torch.device, str, int, None] = None) -> None:
    if d is None:
        _ops.synchronize(-1)
    else:
        _ops.synchronize(xinhe_device(d).index)


__all__ = ["OpStats", "Stats", "device", "devices", "reset_stats", "stats", "strict",
           "synchronize", "xinhe_device"]
