"""The original's remaining ``bitsandbytes.functional`` helpers (re-exported by functional.py).

``igemm``, ``batched_igemm`` and ``check_matmul`` are deprecated in the original
(a ``FutureWarning`` on every call) and run here on every device with torch's
integer matmul; ``fill`` / ``elementwise_func`` are its small paged-memory
kernels; ``get_ptr``, ``is_on_gpu`` and ``has_avx512bf16`` its plumbing helpers.
"""

from __future__ import annotations

import ctypes
import functools
import warnings
from collections.abc import Iterable

import torch

from . import cextension

#: The int8 scale of LLM.int8() (a row's absmax maps to 127).
C = 127.0


def _deprecated(fn):
    message = "This function is deprecated and will be removed in a future release."

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        warnings.warn(message, FutureWarning, stacklevel=2)
        return fn(*args, **kwargs)

    wrapper.__deprecated__ = message
    return wrapper


def get_ptr(A: torch.Tensor | None) -> ctypes.c_void_p | None:
    """The address of ``A``'s first element as a ``ctypes.c_void_p`` (None for None)."""
    if A is None:
        return None
    return ctypes.c_void_p(A.data_ptr())


def is_on_gpu(tensors: Iterable[torch.Tensor | None]) -> bool:
    """True when the given tensors (None and paged tensors are skipped) share one device;
    raises RuntimeError naming the shapes and devices otherwise."""
    tensors = list(tensors)
    devices = {(t.device.type, t.device.index) for t in tensors if t is not None and not getattr(t, "is_paged", False)}
    if len(devices) > 1:
        where = "device" if ("cpu", None) in devices else "GPU"
        listing = [(t.shape, t.device) for t in tensors if t is not None]
        raise RuntimeError(
            f"Input tensors need to be on the same {where}, but found the following tensor and device "
            f"combinations:\n {listing}"
        )
    return True


def has_avx512bf16() -> bool:
    """Whether this CPU has AVX512-BF16 (the original's check before its CPU 4-bit kernels)."""
    if not cextension.native_available():
        return False
    return bool(cextension._C.cpu_features().get("avx512_bf16", False))


_ELEMENTWISE_DTYPES = (torch.float32, torch.uint8)


def elementwise_func(func_name, A, B, value, prefetch=True):
    """In place on ``A`` (float32 or uint8): ``"fill"`` sets every element to ``value``,
    ``"arange"`` sets element i to i, ``"_mul"`` multiplies by ``B`` element-wise."""
    if A.dtype not in _ELEMENTWISE_DTYPES or func_name not in ("fill", "arange", "_mul"):
        raise NotImplementedError(f"Function not implemented: {func_name}")
    if func_name == "_mul" and (B is None or B.numel() != A.numel()):
        raise ValueError(
            f"elementwise_func('_mul'): B must have A's {A.numel()} elements, got {None if B is None else B.numel()}"
        )
    from .paging import prefetch_tensor

    if prefetch and getattr(A, "is_managed", False):
        prefetch_tensor(A)
        if B is not None:
            prefetch_tensor(B)
    with torch.no_grad():
        flat = A.view(-1)
        if func_name == "fill":
            flat.fill_(value)
        elif func_name == "arange":
            flat.copy_(torch.arange(flat.numel(), device=A.device))
        else:
            flat.mul_(B.reshape(-1).to(A.dtype))


def fill(A, value, device=None, prefetch=True):
    """Set every element of ``A`` to ``value`` in place (float32 or uint8)."""
    elementwise_func("fill", A, None, value)


def _transposed(X: torch.Tensor, flag: bool) -> torch.Tensor:
    return X.transpose(-1, -2) if flag else X


@_deprecated
def check_matmul(A, B, out, transposed_A, transposed_B, expected_type=torch.int8):
    """The output shape of ``op(A) @ op(B)`` (op = transpose when the flag is set) for 2-D/2-D,
    3-D/2-D and 3-D/3-D operands, or a ValueError when the inner dimensions differ."""
    if A.dtype != expected_type or B.dtype != expected_type:
        raise TypeError(f"Expected torch.int8 input tensors A and B, but got {A.dtype} and {B.dtype}")
    sA, sB = tuple(A.shape), tuple(B.shape)
    if (len(sA), len(sB)) not in ((2, 2), (3, 2), (3, 3)):
        raise ValueError(f"check_matmul: A and B must be 2-D/2-D, 3-D/2-D or 3-D/3-D, got {sA} x {sB}")
    a_rows, a_inner = (sA[-1], sA[-2]) if transposed_A else (sA[-2], sA[-1])
    b_inner, b_cols = (sB[-1], sB[-2]) if transposed_B else (sB[-2], sB[-1])
    correct = a_inner == b_inner
    if out is not None:
        sout = tuple(out.shape)
        # the weight-gradient contraction bsi,bso->io (backprop through a 3-D product)
        if not correct and len(sA) == 3 and len(sB) == 3:
            correct = sout == (sA[2], sB[2]) and sA[:2] == sB[:2]
    else:
        sout = (*sA[:-2], a_rows, b_cols)
    if not correct:
        raise ValueError(
            f"Tensor dimensions incorrect for matrix mulitiplication: A x B: {sA} x {sB} with transpose for "
            f"A x B: {transposed_A} x {transposed_B}."
        )
    return sout


def _int_matmul(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    # fp64 holds every int8 dot product exactly (|sum| < 2^53 for < 5e11 terms), on every device
    return torch.matmul(A.to(torch.float64), B.to(torch.float64)).to(torch.int32)


@_deprecated
def igemm(
    A: torch.Tensor,
    B: torch.Tensor,
    out: torch.Tensor | None = None,
    transposed_A=False,
    transposed_B=False,
):
    """int32 ``op(A) @ op(B)`` of int8 tensors (2-D or 3-D A, 2-D B; batched 3-D/3-D goes to
    :func:`batched_igemm`, and the 3-D/3-D ``out`` of shape [i, o] is ``einsum('bsi,bso->io')``)."""
    sout = check_matmul(A, B, out, transposed_A, transposed_B)
    if A.dim() == 3 and B.dim() == 3:
        if A.shape[0] == B.shape[0] and A.shape[2] == B.shape[1] and not (transposed_A or transposed_B):
            return batched_igemm(A, B, out)
        if A.shape[:2] != B.shape[:2]:
            raise ValueError(
                f"Only bsi,bso->io supported for tensor contractions, but dims for A x B were: "
                f"{tuple(A.shape)} x {tuple(B.shape)}"
            )
        result = _int_matmul(A.reshape(-1, A.shape[2]).t(), B.reshape(-1, B.shape[2]))
    else:
        result = _int_matmul(_transposed(A, transposed_A), _transposed(B, transposed_B))
    if out is None:
        return result.reshape(sout)
    return out.copy_(result.reshape(out.shape))


@_deprecated
def batched_igemm(
    A: torch.Tensor,
    B: torch.Tensor,
    out: torch.Tensor | None = None,
    transposed_A=False,
    transposed_B=False,
):
    """int32 ``bmm(op(A), op(B))`` of 3-D int8 tensors."""
    if A.dim() != 3 or B.dim() != 3:
        raise ValueError(f"Expected 3-dimensional tensors for bmm, but got shapes A and B: {A.shape} and {B.shape}")
    a, b = _transposed(A, transposed_A), _transposed(B, transposed_B)
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"batched_igemm: cannot multiply {tuple(a.shape)} by {tuple(b.shape)}")
    result = _int_matmul(a, b)
    if out is None:
        return result
    return out.copy_(result)
