"""LLM.int8() functional API (re-exported by :mod:`bitsandbytes.functional`).

Names, signatures and defaults are those of bitsandbytes 0.50. Every function is a
thin wrapper over a ``torch.ops.bitsandbytes`` op.
"""

from __future__ import annotations

import torch

from . import _validate, cextension

__all__ = [
    "int8_double_quant",
    "int8_linear_matmul",
    "int8_mm_dequant",
    "int8_vectorwise_dequant",
    "int8_vectorwise_quant",
]


def _ops():
    cextension.require_native("this operation")
    return torch.ops.bitsandbytes


def int8_vectorwise_quant(A: torch.Tensor, threshold=0.0):
    """Row-wise absmax int8 quantization of ``A`` (``[..., K]``, fp16/bf16/fp32).

    Returns ``(CA int8 like A, row_stats fp32 [prod(A.shape[:-1])], outlier_cols)``.
    With ``threshold > 0`` elements with ``|x| >= threshold`` are outliers: they are
    left out of the row statistics and set to 0, and (with more than one row) their
    whole columns are zeroed; ``outlier_cols`` is then the int64 tensor of those
    columns (possibly empty). With ``threshold == 0`` it is ``None``.
    """
    return _ops().int8_vectorwise_quant(A, float(threshold))


def int8_vectorwise_dequant(A: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
    """``A * stats[:, None] / 127`` as float32 (``A`` int8 ``[rows, K]``, ``stats`` fp32 ``[rows]``)."""
    return _ops().int8_vectorwise_dequant(A, stats)


def int8_double_quant(
    A: torch.Tensor,
    col_stats: torch.Tensor | None = None,
    row_stats: torch.Tensor | None = None,
    out_col: torch.Tensor | None = None,
    out_row: torch.Tensor | None = None,
    threshold=0.0,
):
    """Row-wise and column-wise int8 quantization of a 2-D ``A``.

    Returns ``(row_q, col_q, row_stats, col_stats, outlier_cols)``; outliers (``|x| >= threshold``)
    are masked in both passes. The optional ``out_*`` tensors receive copies of the results;
    precomputed ``row_stats`` / ``col_stats`` are not supported (as in the original).
    """
    if row_stats is not None:
        raise ValueError("int8_double_quant: row_stats must be None (precomputed statistics are not supported)")
    if col_stats is not None:
        raise ValueError("int8_double_quant: col_stats must be None (precomputed statistics are not supported)")
    quant_row, quant_col, row_s, col_s, outlier_cols = _ops().int8_double_quant(A, float(threshold))
    if out_row is not None:
        quant_row = _validate.copy_into("int8_double_quant", "out_row", out_row, quant_row)
    if out_col is not None:
        quant_col = _validate.copy_into("int8_double_quant", "out_col", out_col, quant_col)
    return quant_row, quant_col, row_s, col_s, outlier_cols


def int8_linear_matmul(A: torch.Tensor, B: torch.Tensor, out: torch.Tensor | None = None, dtype=torch.int32):
    """int32 ``A @ B.T`` for int8 ``A [..., K]`` and ``B [N, K]``; result ``[..., N]``."""
    if dtype != torch.int32:
        raise NotImplementedError(f"int8_linear_matmul: only int32 output is supported, got dtype={dtype}")
    if out is not None:
        _ops().int8_linear_matmul.out(A, B, out=out)
        return out
    return _ops().int8_linear_matmul(A, B)


def int8_mm_dequant(
    A: torch.Tensor,
    row_stats: torch.Tensor,
    col_stats: torch.Tensor,
    out: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Rescale an int32 product: ``A * row_stats[:, None] * col_stats[None, :] / 127**2 (+ bias)``, float16."""
    result = _ops().int8_mm_dequant(A, row_stats, col_stats, dtype=torch.float16, bias=bias)
    if out is not None:
        return _validate.copy_into("int8_mm_dequant", "out", out, result)
    return result
