"""Fake (meta) implementations of every ``bitsandbytes::`` op, for torch.compile
and FakeTensor tracing. The real kernels are registered by the native library;
the schemas live in ``csrc/registration.cpp``.

Each fake checks what the real kernel checks about its arguments' metadata and
returns outputs with the real kernel's shapes and dtypes. A call whose tensors
are on different devices dispatches here when one of them is on the meta device
(Meta outranks every backend), so every fake first checks that all its tensor
arguments share one device, as every real binding does.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Sequence
from math import prod

import torch

from .cextension import native_available

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
_4BIT_BLOCKSIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
#: The dtypes a packed 4-bit tensor may be viewed as (csrc/checks.h: check_quant_storage).
QUANT_STORAGE_DTYPES = (torch.uint8, torch.int8, torch.float16, torch.bfloat16, torch.float32)


def _check_devices(op: str, arguments: dict) -> None:
    """Every tensor argument on the device of the first one."""
    first_name, first = None, None
    for name, value in arguments.items():
        if not isinstance(value, torch.Tensor):
            continue
        if first is None:
            first_name, first = name, value
        elif value.device != first.device:
            raise RuntimeError(
                f"bitsandbytes::{op}: {name} is on {value.device} but {first_name} is on {first.device}; "
                "all tensor arguments must be on one device"
            )


def _register_fake(qualname: str):
    """``torch.library.register_fake`` with the device check of :func:`_check_devices` in front."""

    def decorate(fake):
        signature = inspect.signature(fake)
        op = qualname.split("::")[1].split(".")[0]

        @functools.wraps(fake)
        def checked(*args, **kwargs):
            _check_devices(op, signature.bind(*args, **kwargs).arguments)
            return fake(*args, **kwargs)

        torch.library.register_fake(qualname)(checked)
        return fake

    return decorate


def _check_threshold(op: str, threshold: float) -> bool:
    """Whether outliers are detected (threshold > 0; <= 0 turns it off, as in the original)."""
    torch._check(
        not math.isnan(threshold),
        lambda: f"bitsandbytes::{op}: threshold is NaN (use 0.0 for no outlier decomposition)",
    )
    return threshold > 0.0


def _check_4bit(op: str, blocksize: int, quant_type: str) -> None:
    torch._check(
        blocksize in _4BIT_BLOCKSIZES,
        lambda: f"bitsandbytes::{op}: blocksize must be a power of two from 32 to 4096, got {blocksize}",
    )
    torch._check(
        quant_type in ("nf4", "fp4"),
        lambda: f"bitsandbytes::{op}: quant_type must be 'nf4' or 'fp4', got {quant_type!r}",
    )


def _check_float(op: str, arg: str, dtype: torch.dtype) -> None:
    torch._check(
        dtype in _FLOAT_DTYPES, lambda: f"bitsandbytes::{op}: {arg} must be float16, bfloat16 or float32, got {dtype}"
    )


def _register_fakes() -> None:
    register_fake = _register_fake

    @register_fake("bitsandbytes::quantize_4bit")
    def _(A: torch.Tensor, blocksize: int, quant_type: str, quant_storage: torch.dtype):
        _check_4bit("quantize_4bit", blocksize, quant_type)
        _check_float("quantize_4bit", "A", A.dtype)
        torch._check(
            quant_storage in QUANT_STORAGE_DTYPES,
            lambda: (
                "bitsandbytes::quantize_4bit: quant_storage must be torch.uint8, torch.int8, torch.float16, "
                f"torch.bfloat16 or torch.float32, got {quant_storage}"
            ),
        )
        n = A.numel()
        itemsize = quant_storage.itemsize
        out = torch.empty(((n + 1) // (itemsize * 2), 1), device=A.device, dtype=quant_storage)
        absmax = torch.empty((-(n // -blocksize),), device=A.device, dtype=torch.float32)
        return out, absmax

    def _dequantize_4bit_checks(A, absmax, blocksize, quant_type, dtype):
        _check_4bit("dequantize_4bit", blocksize, quant_type)
        _check_float("dequantize_4bit", "dtype", dtype)
        torch._check(
            absmax.dtype == torch.float32,
            lambda: f"bitsandbytes::dequantize_4bit: absmax must be float32, got {absmax.dtype}",
        )

    @register_fake("bitsandbytes::dequantize_4bit")
    def _(A, absmax, blocksize: int, quant_type: str, shape: Sequence[int], dtype: torch.dtype):
        _dequantize_4bit_checks(A, absmax, blocksize, quant_type, dtype)
        return torch.empty(shape, dtype=dtype, device=A.device)

    @register_fake("bitsandbytes::dequantize_4bit.out")
    def _(A, absmax, blocksize: int, quant_type: str, shape: Sequence[int], dtype: torch.dtype, out: torch.Tensor):
        _dequantize_4bit_checks(A, absmax, blocksize, quant_type, dtype)
        torch._check(
            out.shape == tuple(shape),
            lambda: f"bitsandbytes::dequantize_4bit: out has shape {tuple(out.shape)}, expected {tuple(shape)}",
        )
        torch._check(out.dtype == dtype, lambda: f"bitsandbytes::dequantize_4bit: out must be {dtype}, got {out.dtype}")

    @register_fake("bitsandbytes::quantize_blockwise")
    def _(A: torch.Tensor, code: torch.Tensor, blocksize: int):
        torch._check(
            blocksize > 0, lambda: f"bitsandbytes::quantize_blockwise: blocksize must be positive, got {blocksize}"
        )
        _check_float("quantize_blockwise", "A", A.dtype)
        n = A.numel()
        return torch.empty_like(A, dtype=torch.uint8), torch.empty(
            (-(n // -blocksize),), device=A.device, dtype=torch.float32
        )

    def _dequantize_blockwise_checks(A, absmax, code, blocksize, dtype):
        torch._check(
            A.dtype == torch.uint8, lambda: f"bitsandbytes::dequantize_blockwise: A must be uint8, got {A.dtype}"
        )
        torch._check(
            blocksize > 0, lambda: f"bitsandbytes::dequantize_blockwise: blocksize must be positive, got {blocksize}"
        )
        _check_float("dequantize_blockwise", "dtype", dtype)

    @register_fake("bitsandbytes::dequantize_blockwise")
    def _(A, absmax, code, blocksize: int, dtype: torch.dtype):
        _dequantize_blockwise_checks(A, absmax, code, blocksize, dtype)
        return torch.empty_like(A, dtype=dtype)

    @register_fake("bitsandbytes::dequantize_blockwise.out")
    def _(A, absmax, code, blocksize: int, dtype: torch.dtype, out: torch.Tensor):
        _dequantize_blockwise_checks(A, absmax, code, blocksize, dtype)
        torch._check(
            out.shape == A.shape,
            lambda: f"bitsandbytes::dequantize_blockwise: out has shape {tuple(out.shape)}, expected {tuple(A.shape)}",
        )
        torch._check(
            out.dtype == dtype, lambda: f"bitsandbytes::dequantize_blockwise: out must be {dtype}, got {out.dtype}"
        )

    def _gemv_4bit_checks(A, shapeB, absmax, code, blocksize):
        torch._check(
            blocksize in _4BIT_BLOCKSIZES,
            lambda: f"bitsandbytes::gemv_4bit: blocksize must be a power of two from 32 to 4096, got {blocksize}",
        )
        torch._check(
            len(shapeB) == 2, lambda: f"bitsandbytes::gemv_4bit: shapeB must be [N, K] (2 entries), got {shapeB}"
        )
        torch._check(
            A.shape[-1] == shapeB[1],
            lambda: f"bitsandbytes::gemv_4bit: A has {A.shape[-1]} features but the weight expects {shapeB[1]}",
        )
        _check_float("gemv_4bit", "A", A.dtype)
        torch._check(
            absmax.dtype == torch.float32,
            lambda: f"bitsandbytes::gemv_4bit: absmax must be float32, got {absmax.dtype}",
        )
        torch._check(
            code.dtype == torch.float32 and code.numel() == 16,
            lambda: "bitsandbytes::gemv_4bit: code must be a float32 tensor of 16 entries",
        )

    @register_fake("bitsandbytes::gemv_4bit")
    def _(A, B, shapeB: Sequence[int], absmax, code, blocksize: int):
        _gemv_4bit_checks(A, shapeB, absmax, code, blocksize)
        return torch.empty((*A.shape[:-1], shapeB[0]), device=A.device, dtype=A.dtype)

    @register_fake("bitsandbytes::gemv_4bit.out")
    def _(A, B, shapeB: Sequence[int], absmax, code, blocksize: int, out: torch.Tensor):
        _gemv_4bit_checks(A, shapeB, absmax, code, blocksize)
        torch._check(
            out.shape == (*A.shape[:-1], shapeB[0]),
            lambda: f"bitsandbytes::gemv_4bit: out has shape {tuple(out.shape)}",
        )
        torch._check(out.dtype == A.dtype, lambda: f"bitsandbytes::gemv_4bit: out must be {A.dtype}, got {out.dtype}")

    @register_fake("bitsandbytes::gemm_4bit")
    def _(
        A,
        B,
        shapeB: Sequence[int],
        absmax,
        blocksize: int,
        quant_type: str,
        bias=None,
        absmax_8bit=None,
        absmax_code=None,
        absmax_offset=None,
    ):
        _check_4bit("gemm_4bit", blocksize, quant_type)
        _check_float("gemm_4bit", "A", A.dtype)
        torch._check(
            A.shape[-1] == shapeB[1],
            lambda: f"bitsandbytes::gemm_4bit: A has {A.shape[-1]} features but the weight expects {shapeB[1]}",
        )
        torch._check(
            absmax_8bit is not None or (absmax_code is None and absmax_offset is None),
            lambda: "bitsandbytes::gemm_4bit: absmax_code and absmax_offset are only used together with absmax_8bit",
        )
        if absmax_8bit is not None:
            torch._check(
                absmax_8bit.dtype == torch.uint8,
                lambda: f"bitsandbytes::gemm_4bit: absmax_8bit must be uint8, got {absmax_8bit.dtype}",
            )
            torch._check(
                absmax_code is not None and absmax_code.dtype == torch.float32 and absmax_code.numel() == 256,
                lambda: "bitsandbytes::gemm_4bit: absmax_code must be a float32 tensor of 256 entries",
            )
            torch._check(
                absmax_offset is not None and absmax_offset.is_floating_point() and absmax_offset.dim() == 0,
                lambda: "bitsandbytes::gemm_4bit: absmax_offset must be a 0-dim floating-point tensor",
            )
        return torch.empty((*A.shape[:-1], shapeB[0]), device=A.device, dtype=A.dtype)

    def _int8_quant_fake(op, A, threshold, *, columns, mask):
        """Outputs of int8_vectorwise_quant (columns=False) and int8_double_quant (columns=True):
        int8 rows [and columns], row [and column] stats, then the outliers: None below the
        threshold, else a bool mask over A's columns (the .mask overloads) or their indices (a
        data-dependent count)."""
        q = [torch.empty(A.shape, device=A.device, dtype=torch.int8) for _ in range(1 + columns)]
        stats = [torch.empty(prod(A.shape[:-1]), device=A.device, dtype=torch.float32)]
        if columns:
            stats.append(torch.empty(A.shape[-1], device=A.device, dtype=torch.float32))
        if not _check_threshold(op, threshold):
            outliers = None
        elif mask:
            outliers = torch.empty(A.shape[-1], device=A.device, dtype=torch.bool)
        else:
            outliers = A.new_empty(torch.library.get_ctx().new_dynamic_size(), dtype=torch.int64)
        return (*q, *stats, outliers)

    @register_fake("bitsandbytes::int8_vectorwise_quant")
    def _(A: torch.Tensor, threshold: float = 0.0):
        return _int8_quant_fake("int8_vectorwise_quant", A, threshold, columns=False, mask=False)

    @register_fake("bitsandbytes::int8_vectorwise_quant.mask")
    def _(A: torch.Tensor, threshold: float = 0.0):
        return _int8_quant_fake("int8_vectorwise_quant", A, threshold, columns=False, mask=True)

    @register_fake("bitsandbytes::int8_vectorwise_dequant")
    def _(A: torch.Tensor, stats: torch.Tensor):
        torch._check(
            A.dtype == torch.int8, lambda: f"bitsandbytes::int8_vectorwise_dequant: A must be int8, got {A.dtype}"
        )
        return torch.empty_like(A, dtype=torch.float32)

    def _int8_matmul_shape(A, B):
        torch._check(A.dtype == torch.int8, lambda: f"bitsandbytes::int8_linear_matmul: A must be int8, got {A.dtype}")
        torch._check(B.dtype == torch.int8, lambda: f"bitsandbytes::int8_linear_matmul: B must be int8, got {B.dtype}")
        torch._check(
            A.shape[-1] == B.shape[-1],
            lambda: f"bitsandbytes::int8_linear_matmul: A has {A.shape[-1]} columns but B has {B.shape[-1]}",
        )
        return (*A.shape[:-1], B.shape[0])

    @register_fake("bitsandbytes::int8_linear_matmul")
    def _(A, B):
        return torch.empty(_int8_matmul_shape(A, B), device=A.device, dtype=torch.int32)

    @register_fake("bitsandbytes::int8_linear_matmul.out")
    def _(A, B, out):
        shape = _int8_matmul_shape(A, B)
        torch._check(
            out.shape == shape,
            lambda: f"bitsandbytes::int8_linear_matmul: out has shape {tuple(out.shape)}, expected {shape}",
        )
        torch._check(
            out.dtype == torch.int32, lambda: f"bitsandbytes::int8_linear_matmul: out must be int32, got {out.dtype}"
        )

    @register_fake("bitsandbytes::int8_mm_dequant")
    def _(A, row_stats, col_stats, dtype=None, bias=None):
        torch._check(A.dtype == torch.int32, lambda: f"bitsandbytes::int8_mm_dequant: A must be int32, got {A.dtype}")
        return torch.empty_like(A, dtype=dtype or torch.float16)

    @register_fake("bitsandbytes::int8_scaled_mm")
    def _(A, B, row_stats, col_stats, bias=None, dtype=None):
        shape = _int8_matmul_shape(A, B)
        return torch.empty(shape, device=A.device, dtype=dtype or torch.float16)

    @register_fake("bitsandbytes::int8_mixed_scaled_mm")
    def _(A, CA, CB, SCA, SCB, outlier_cols=None, bias=None):
        shape = _int8_matmul_shape(CA, CB)
        out = torch.empty(shape, device=A.device, dtype=A.dtype)
        if outlier_cols is None or outlier_cols.dtype == torch.bool:
            return out, None
        return out, torch.empty((CB.shape[0], outlier_cols.shape[0]), device=A.device, dtype=A.dtype)

    @register_fake("bitsandbytes::int8_double_quant")
    def _(A: torch.Tensor, threshold: float = 0.0):
        return _int8_quant_fake("int8_double_quant", A, threshold, columns=True, mask=False)

    @register_fake("bitsandbytes::int8_double_quant.mask")
    def _(A: torch.Tensor, threshold: float = 0.0):
        return _int8_quant_fake("int8_double_quant", A, threshold, columns=True, mask=True)

    @register_fake("bitsandbytes::optimizer_update_32bit")
    def _(
        optimizer_name,
        g,
        p,
        state1,
        state2,
        unorm_vec,
        max_unorm,
        param_norm,
        beta1,
        beta2,
        beta3,
        alpha,
        eps,
        weight_decay,
        step,
        lr,
        gnorm_scale,
        skip_zeros=False,
    ):
        torch._check(
            g.numel() == p.numel(),
            lambda: f"bitsandbytes::optimizer_update_32bit: g has {g.numel()} elements, p has {p.numel()}",
        )

    @register_fake("bitsandbytes::optimizer_update_8bit_blockwise")
    def _(
        optimizer_name,
        g,
        p,
        state1,
        state2,
        beta1,
        beta2,
        beta3,
        alpha,
        eps,
        step,
        lr,
        qmap1,
        qmap2,
        absmax1,
        absmax2,
        weight_decay,
        gnorm_scale,
        skip_zeros=False,
    ):
        torch._check(
            g.numel() == p.numel(),
            lambda: f"bitsandbytes::optimizer_update_8bit_blockwise: g has {g.numel()} elements, p has {p.numel()}",
        )


if native_available():
    _register_fakes()
