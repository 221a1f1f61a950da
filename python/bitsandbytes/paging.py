"""Paged (CUDA unified-memory) tensors for the paged optimizers.

``get_paged`` returns a CPU tensor over memory from ``cudaMallocManaged`` (the
driver migrates its pages to the GPU on access and back under memory pressure),
with ``.is_paged`` and ``.page_deviceid`` set, as bitsandbytes does.
``device_view`` gives the CUDA tensor over the same memory that the GPU ops
take, and ``prefetch_tensor`` moves the pages ahead of use. Without a CUDA
build these raise a RuntimeError; on the CPU the paged optimizers simply use
plain tensors.
"""

from __future__ import annotations

import torch

from . import cextension

_TYPESTR = {
    torch.float32: "<f4",
    torch.float16: "<f2",
    torch.int16: "<i2",
    torch.uint8: "|u1",
    torch.int8: "|i1",
    torch.int32: "<i4",
}


class GlobalPageManager:
    """Keeps the paged tensors of the paged optimizers (a process-wide singleton)."""

    _instance = None

    def __init__(self):
        raise RuntimeError("Call get_instance() instead")

    def initialize(self) -> None:
        self.paged_tensors: list[torch.Tensor] = []

    @classmethod
    def get_instance(cls) -> GlobalPageManager:
        if cls._instance is None:
            cls._instance = cls.__new__(cls)
            cls._instance.initialize()
        return cls._instance

    def prefetch_all(self, to_cpu: bool = False) -> None:
        # newest first: the tensors used first in the next step were appended last
        for t in self.paged_tensors[::-1]:
            prefetch_tensor(t, to_cpu)


def managed_memory_available() -> bool:
    C = cextension._C
    return C is not None and hasattr(C, "ManagedBuffer")


def _require() -> None:
    if not managed_memory_available():
        raise RuntimeError(
            "paged tensors need bitsandbytes built with CUDA (cudaMallocManaged); this build has no CUDA backend"
        )


#: The original's default device of paged tensors.
FIRST_CUDA_DEVICE = torch.device("cuda", 0)


def get_paged(*shape, dtype: torch.dtype = torch.float32, device=FIRST_CUDA_DEVICE) -> torch.Tensor:
    """A zero-initialized CPU tensor in CUDA managed memory, with ``is_paged`` and ``page_deviceid``."""
    _require()
    device = torch.device(device)
    index = device.index if device.index is not None else torch.cuda.current_device()
    numel = 1
    for d in shape:
        numel *= int(d)
    itemsize = torch.empty((), dtype=dtype).element_size()
    buf = cextension._C.ManagedBuffer(max(numel * itemsize, 1), index)
    t = torch.frombuffer(buf, dtype=torch.uint8)[: numel * itemsize].view(dtype).view(*shape)
    t.zero_()
    t.is_paged = True
    t.page_deviceid = index
    t._bnb_managed = buf
    return t


class _CudaArray:
    def __init__(self, t: torch.Tensor):
        self.__cuda_array_interface__ = {
            "shape": tuple(t.shape),
            "typestr": _TYPESTR[t.dtype],
            "data": (t.data_ptr(), False),
            "version": 2,
            "strides": None,
        }
        self._keep = t


def device_view(t: torch.Tensor) -> torch.Tensor:
    """The CUDA tensor over a paged tensor's memory (the tensor itself if it is not paged)."""
    if not getattr(t, "is_paged", False) or t.device.type == "cuda":
        return t
    dtype = t.dtype
    src = t.view(torch.int16) if dtype == torch.bfloat16 else t
    v = torch.as_tensor(_CudaArray(src), device=torch.device("cuda", t.page_deviceid))
    if dtype == torch.bfloat16:
        v = v.view(torch.bfloat16)
    v.is_paged = True
    v.page_deviceid = t.page_deviceid
    v._bnb_host = t
    return v


def prefetch_tensor(A: torch.Tensor, to_cpu: bool = False) -> None:
    """Migrate a paged tensor's pages to its GPU (or to the host) ahead of use; no-op if not paged."""
    if not getattr(A, "is_paged", False):
        return
    _require()
    device = -1 if to_cpu else int(A.page_deviceid)
    cextension._C.prefetch(A.data_ptr(), A.numel() * A.element_size(), device)
