"""LLM.int8() matmul: ``MatmulLtState``, the ``MatMul8bitLt`` / ``MatMul8bitFp``
autograd functions and ``matmul`` (names and behaviour of bitsandbytes 0.50).

``MatMul8bitLt`` quantizes the input row-wise to int8 (in float16, as the
original does), multiplies it with the int8 weight and rescales in one fused op
(``int8_scaled_mm``). With ``threshold > 0`` the input columns holding an
outlier (``|x| >= threshold``) are taken out of the int8 product and multiplied
in 16-bit instead (``int8_mixed_scaled_mm``): the mixed-precision
decomposition of LLM.int8(). The forward pass reads nothing back to the host:
the outlier columns travel as a bool mask over the input's columns
(``int8_vectorwise_quant.mask``), and ``state.idx`` turns it into column
indices only when it is read.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from math import prod
from typing import Any

import torch

from .. import functional_int8 as F8

_DEPRECATED_FIELDS = ("CxB", "CxBt", "formatB", "_tile_indices")


@dataclass
class MatmulLtState:
    """State of an 8-bit linear layer: the int8 weight ``CB`` ``[out, in]`` and its
    fp32 row absmax ``SCB`` ``[out]``, the outlier threshold and flags."""

    force_no_igemmlt: bool = False
    CB: torch.Tensor | None = None
    SB: torch.Tensor | None = None
    SCB: torch.Tensor | None = None
    SBt: torch.Tensor | None = None
    CBt: torch.Tensor | None = None
    subB: torch.Tensor | None = None
    outlier_pool: Any | None = None
    has_accumulated_gradients = False
    threshold = 0.0
    idx: torch.Tensor | None = None
    is_training = True
    has_fp16_weights = True
    use_pool = False

    _deprecated_fields = _DEPRECATED_FIELDS

    def _get_idx(self) -> torch.Tensor | None:
        idx = self.__dict__.get("_idx")
        if idx is not None and idx.dtype == torch.bool:  # the forward's outlier mask: its columns, on first read
            idx = self.__dict__["_idx"] = idx.nonzero().view(-1)
        return idx

    def _set_idx(self, value: torch.Tensor | None) -> None:
        self.__dict__["_idx"] = value

    def reset_grads(self) -> None:
        self.CB = None
        self.SB = None
        self.SCB = None
        self.SBt = None
        self.CBt = None

    def __getattr__(self, name: str):
        # Only reached when normal lookup fails: the removed layout fields read as None.
        if name in _DEPRECATED_FIELDS:
            warnings.warn(
                f"MatmulLtState.{name} is deprecated and always None (the int8 weight is row-major)",
                FutureWarning,
                stacklevel=2,
            )
            return None
        raise AttributeError(f"'MatmulLtState' object has no attribute '{name}'")


# The outlier columns of the last forward pass (int64), or None. Installed after the dataclass is built, so
# MatmulLtState(idx=...) still works; the forward stores a bool mask, converted on the first read.
MatmulLtState.idx = property(MatmulLtState._get_idx, MatmulLtState._set_idx)

_warned_cast = set()


def _warn_cast(dtype: torch.dtype) -> None:
    if dtype not in _warned_cast and not torch.compiler.is_compiling():
        _warned_cast.add(dtype)
        warnings.warn(f"MatMul8bitLt: inputs will be cast from {dtype} to float16 during quantization", stacklevel=3)


def _check_shapes(A: torch.Tensor, B: torch.Tensor, bias: torch.Tensor | None, state: MatmulLtState | None) -> None:
    if not isinstance(A, torch.Tensor) or not isinstance(B, torch.Tensor):
        raise TypeError(f"bitsandbytes.matmul: A and B must be tensors, got {type(A).__name__} and {type(B).__name__}")
    if not A.is_floating_point():
        raise TypeError(f"bitsandbytes.matmul: A must be a floating-point tensor, got {A.dtype}")
    if B.dim() != 2:
        raise ValueError(f"bitsandbytes.matmul: B must be a 2-D weight [out, in], got shape {tuple(B.shape)}")
    weight_shape = tuple(B.shape)
    if state is not None and not state.has_fp16_weights and state.CB is not None:
        # The product uses the state's int8 weight; B may be it or its transposed view.
        weight_shape = tuple(state.CB.shape)
        if tuple(B.shape) not in (weight_shape, weight_shape[::-1]):
            raise ValueError(
                f"bitsandbytes.matmul: B has shape {tuple(B.shape)} but the state's int8 weight CB has shape "
                f"{weight_shape}"
            )
    if A.dim() == 0 or A.shape[-1] != weight_shape[1]:
        raise ValueError(
            f"bitsandbytes.matmul: A's last dimension ({A.shape[-1] if A.dim() else None}) must equal the weight's "
            f"in_features ({weight_shape[1]}); A has shape {tuple(A.shape)}, the weight [out, in] {weight_shape}, "
            "and the product is A @ weight.T"
        )
    if bias is not None and bias.numel() != weight_shape[0]:
        raise ValueError(
            f"bitsandbytes.matmul: bias has {bias.numel()} entries but the weight has {weight_shape[0]} output rows"
        )


def _quantize_weight(B: torch.Tensor, state: MatmulLtState) -> None:
    """Fill state.CB / state.SCB from a floating-point B when needed (fp16 weights, or none yet)."""
    if state.has_fp16_weights or state.CB is None:
        if B.dtype == torch.int8:
            if state.CB is None:
                raise RuntimeError("bitsandbytes.matmul: B is int8 but the state holds no SCB row scales for it")
            return
        has_grad = getattr(B, "grad", None) is not None
        if (state.is_training and not has_grad) or state.CB is None or state.SCB is None:
            state.reset_grads()
            state.CB, state.SCB, _ = F8.int8_vectorwise_quant(B.detach().contiguous().to(torch.float16))
    if state.SCB is None or state.SCB.numel() != state.CB.shape[0]:
        n = None if state.SCB is None else state.SCB.numel()
        raise ValueError(
            f"bitsandbytes.matmul: the weight's SCB has {n} entries but CB has {state.CB.shape[0]} rows "
            "(corrupted or mismatched 8-bit state)"
        )


def _dequantized_weight(state: MatmulLtState, dtype: torch.dtype) -> torch.Tensor:
    return state.CB.to(dtype).mul_(state.SCB.unsqueeze(1).mul(7.874015718698502e-3))


class MatMul8bitLt(torch.autograd.Function):
    """``A @ B.T (+ bias)`` through int8 (with outlier decomposition when ``state.threshold > 0``)."""

    @staticmethod
    def forward(ctx, A, B, out=None, bias=None, state: MatmulLtState | None = None):
        state = state or MatmulLtState()
        ctx.state = state
        ctx.is_empty = prod(A.shape) == 0
        if ctx.is_empty:
            ctx.dtype_A, ctx.dtype_B = A.dtype, B.dtype
            ctx.dtype_bias = None if bias is None else bias.dtype
            ctx.shape_A, ctx.shape_B = A.shape, B.shape
            out_features = B.shape[0] if state.has_fp16_weights or state.CB is None else state.CB.shape[0]
            shape = (*A.shape[:-1], out_features)
            if bias is None:
                return torch.empty(shape, dtype=A.dtype, device=A.device)
            return torch.zeros(shape, dtype=A.dtype, device=A.device) + bias.to(A.dtype)

        input_shape = A.shape
        A2 = A.reshape(-1, A.shape[-1])
        if A.dtype != torch.float16:
            _warn_cast(A.dtype)
        A16 = A2.to(torch.float16)
        ops = torch.ops.bitsandbytes
        # outlier_cols: a bool mask over A's columns (None without a threshold), nothing read back to the host
        if ctx.needs_input_grad[1]:
            CA, CAt, SCA, SCAt, outlier_cols = ops.int8_double_quant.mask(A16, float(state.threshold))
        else:
            CA, SCA, outlier_cols = ops.int8_vectorwise_quant.mask(A16, float(state.threshold))
            CAt = SCAt = None

        _quantize_weight(B, state)
        if bias is not None and bias.dtype != A.dtype:
            bias = bias.to(A.dtype)
        if state.threshold > 0.0:
            state.idx = outlier_cols
            output, _ = ops.int8_mixed_scaled_mm(A2, CA, state.CB, SCA, state.SCB, outlier_cols, bias)
        else:
            output = ops.int8_scaled_mm(CA, state.CB, SCA, state.SCB, bias=bias, dtype=A.dtype)

        ctx.grad_shape = input_shape
        ctx.dtype_A, ctx.dtype_B = A.dtype, B.dtype
        ctx.dtype_bias = None if bias is None else bias.dtype
        if any(ctx.needs_input_grad[:2]):
            ctx.tensors = (CAt, A2 if ctx.needs_input_grad[1] else None)
            ctx.tensor_states = (SCAt, outlier_cols if state.threshold > 0.0 else None)
        else:
            ctx.tensors = (None, None)
            ctx.tensor_states = (None, None)
        output = output.reshape(*input_shape[:-1], -1)
        if out is not None:
            return out.copy_(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        req_A, req_B, _, req_bias, _ = ctx.needs_input_grad
        if ctx.is_empty:
            bias_grad = None if ctx.dtype_bias is None else torch.zeros(grad_output.shape[-1], dtype=ctx.dtype_bias)
            grad_A = torch.zeros(ctx.shape_A, dtype=ctx.dtype_A, device=grad_output.device) if req_A else None
            grad_B = torch.zeros(ctx.shape_B, dtype=ctx.dtype_B, device=grad_output.device) if req_B else None
            return grad_A, grad_B, None, bias_grad, None
        CAt, A2 = ctx.tensors
        SCAt, mask = ctx.tensor_states
        state: MatmulLtState = ctx.state
        g = grad_output.reshape(-1, grad_output.shape[-1]).contiguous()
        grad_A = grad_B = grad_bias = None
        if req_bias:
            grad_bias = g.sum(0, dtype=ctx.dtype_bias)
        if req_B:
            _, Cg_t, _, SCg_t, _ = F8.int8_double_quant(g.to(torch.float16))
            grad_B = torch.ops.bitsandbytes.int8_scaled_mm(
                Cg_t.t().contiguous(), CAt.t().contiguous(), SCg_t, SCAt, dtype=ctx.dtype_B
            )
            if mask is not None:
                # the outlier columns exactly, in 16-bit, as in the forward pass
                grad_B[:, mask] = torch.matmul(g.t().to(A2.dtype), A2[:, mask]).to(ctx.dtype_B)
        if req_A:
            if state.CB is None:
                raise RuntimeError("MatMul8bitLt.backward: the state holds no CB weight matrix")
            grad_A = torch.matmul(g.to(ctx.dtype_A), _dequantized_weight(state, ctx.dtype_A)).view(ctx.grad_shape)
        return grad_A, grad_B, None, grad_bias, None


class MatMul8bitFp(torch.autograd.Function):
    """Training path on CPU/XPU: dequantize the int8 weight, then ``F.linear`` in A's dtype."""

    @staticmethod
    def forward(ctx, A, B, out=None, bias=None, state: MatmulLtState | None = None):
        state = state or MatmulLtState()
        _quantize_weight(B, state)
        W = _dequantized_weight(state, A.dtype)
        output = torch.nn.functional.linear(A, W, None if bias is None else bias.to(A.dtype))
        ctx.state = state
        ctx.dtype_A, ctx.dtype_B = A.dtype, B.dtype
        ctx.dtype_bias = None if bias is None else bias.dtype
        ctx.save_for_backward(A if ctx.needs_input_grad[1] else None)
        if out is not None:
            return out.copy_(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        req_A, req_B, _, req_bias, _ = ctx.needs_input_grad
        (A,) = ctx.saved_tensors
        state: MatmulLtState = ctx.state
        grad_A = grad_B = grad_bias = None
        g2 = grad_output.reshape(-1, grad_output.shape[-1])
        if req_bias:
            grad_bias = g2.sum(0, dtype=ctx.dtype_bias)
        if req_A:
            grad_A = torch.matmul(grad_output.to(ctx.dtype_A), _dequantized_weight(state, ctx.dtype_A))
        if req_B:
            grad_B = torch.matmul(g2.t(), A.reshape(-1, A.shape[-1]).to(g2.dtype)).to(ctx.dtype_B)
        return grad_A, grad_B, None, grad_bias, None


def matmul(
    A: torch.Tensor,
    B: torch.Tensor,
    out: torch.Tensor | None = None,
    state: MatmulLtState | None = None,
    threshold=0.0,
    bias: torch.Tensor | None = None,
):
    """LLM.int8() ``A @ B.T (+ bias)``. ``B`` is the weight ``[out, in]`` (float, or int8 with
    ``state.CB`` / ``state.SCB``); ``threshold > 0`` enables the outlier decomposition."""
    _check_shapes(A, B, bias, state)
    state = state or MatmulLtState()
    if threshold > 0.0:
        state.threshold = threshold
    if state.is_training and A.device.type in ("cpu", "xpu"):
        return MatMul8bitFp.apply(A, B, out, bias, state)
    return MatMul8bitLt.apply(A, B, out, bias, state)
