"""Pure-PyTorch oracle of the LLM.int8() ops (SPEC.md section 6), kept apart from
reference.py so it can be read on its own."""

from __future__ import annotations

import torch


def int8_vectorwise_quant(A: torch.Tensor, threshold: float = 0.0):
    rows = A.reshape(-1, A.shape[-1]).float()
    outliers = rows.abs() >= threshold if threshold > 0 else torch.zeros_like(rows, dtype=torch.bool)
    masked = rows.masked_fill(outliers, 0.0)
    stats = masked.abs().amax(dim=1)
    stats = torch.where(
        torch.isnan(rows).any(dim=1) & ~outliers.any(dim=1) | torch.isnan(masked).any(1), torch.nan, stats
    )
    q = torch.round(masked * (127.0 / stats[:, None]))
    q = torch.nan_to_num(q, nan=0.0).to(torch.int8)
    cols = None
    if threshold > 0:
        cols = torch.argwhere(outliers.any(dim=0)).view(-1)
        if rows.shape[0] > 1 and cols.numel():
            q[:, cols] = 0
    return q.view(A.shape), stats, cols


def int8_vectorwise_dequant(q: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
    return q * stats.view(-1, 1) * 7.874015718698502e-3


def int8_double_quant(A: torch.Tensor, threshold: float = 0.0):
    row_q, row_stats, cols = int8_vectorwise_quant(A, threshold)
    outliers = A.abs() >= threshold if threshold > 0 else torch.zeros_like(A, dtype=torch.bool)
    masked = A.masked_fill(outliers, 0.0)
    col_stats = masked.abs().amax(dim=0).float()
    col_q = torch.round(masked.mul(127.0) / col_stats[None, :]).nan_to_num(0.0).to(torch.int8)
    return row_q, col_q, row_stats, col_stats, cols


def int8_linear_matmul(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    return (A.long() @ B.long().t()).to(torch.int32)


def int8_mm_dequant(A, row_stats, col_stats, dtype=torch.float16, bias=None):
    out = A * (row_stats.view(-1, 1) * col_stats.view(1, -1)) * 6.200124e-05
    if bias is not None:
        out = out + bias
    return out.to(dtype)


def int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, cols, bias=None):
    out = int8_mm_dequant(int8_linear_matmul(CA, CB), SCA, SCB, A.dtype, bias)
    if cols is None or cols.numel() == 0:
        return out, None
    subB = int8_vectorwise_dequant(CB[:, cols], SCB).to(A.dtype)
    return out.addmm(A[:, cols], subB.t()), subB
