"""``matmul_4bit``: ``A @ W.T (+ bias)`` for a 4-bit weight ``W``.

Inference goes through the fused ``gemm_4bit`` op (it decodes the weight tile by
tile and never materializes it). With autograd recording, and for float64 input
(which the op has no kernel for), ``MatMul4Bit`` dequantizes the frozen weight and
uses a dense matmul; gradients flow to the input and the bias, never to the weight.
"""

from __future__ import annotations

import warnings

import torch

from .. import functional as F
from ..quant_state import QuantState


def _gemm_4bit(A: torch.Tensor, B: torch.Tensor, state: QuantState, bias: torch.Tensor | None) -> torch.Tensor:
    ops = F._ops()
    shape = list(state.shape)
    if state.nested:
        if state.state2.blocksize != F.NESTED_BLOCKSIZE:
            raise ValueError(
                f"matmul_4bit: a nested quant_state must use nested blocksize {F.NESTED_BLOCKSIZE}, "
                f"got {state.state2.blocksize}"
            )
        return ops.gemm_4bit.default(
            A,
            B,
            shape,
            state.state2.absmax,
            state.blocksize,
            state.quant_type,
            bias,
            state.absmax,
            state.state2.code,
            state.offset,
        )
    return ops.gemm_4bit.default(A, B, shape, state.absmax, state.blocksize, state.quant_type, bias)


def _dequantize_weight(B: torch.Tensor, state: QuantState, dtype: torch.dtype) -> torch.Tensor:
    """The weight ``[out, in]`` from its packed bytes (any view of them), in ``dtype``."""
    W = F._ops().dequantize_4bit.default(
        B.reshape(-1), F._absmax_of(state), state.blocksize, state.quant_type, list(state.shape), state.dtype
    )
    return W.to(dtype)


class MatMul4Bit(torch.autograd.Function):
    """``A @ dequantize_4bit(B).T + bias`` with gradients for ``A`` and ``bias``."""

    @staticmethod
    def forward(ctx, A, B, out=None, bias=None, quant_state: QuantState | None = None):
        W = _dequantize_weight(B, quant_state, A.dtype)
        output = torch.nn.functional.linear(A, W, None if bias is None else bias.to(A.dtype))
        ctx.state = quant_state
        ctx.dtype_A = A.dtype
        ctx.bias_dtype = None if bias is None else bias.dtype
        ctx.save_for_backward(B)
        if out is not None:
            return out.copy_(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        (B,) = ctx.saved_tensors
        grad_A = grad_bias = None
        if ctx.needs_input_grad[0]:
            W = _dequantize_weight(B, ctx.state, grad_output.dtype)
            grad_A = torch.matmul(grad_output, W).to(ctx.dtype_A)
        if ctx.needs_input_grad[3]:
            grad_bias = grad_output.reshape(-1, grad_output.shape[-1]).sum(0).to(ctx.bias_dtype)
        return grad_A, None, None, grad_bias, None


def matmul_4bit(
    A: torch.Tensor,
    B: torch.Tensor,
    quant_state: QuantState,
    out: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """``A @ W.T (+ bias)`` where ``B`` holds the packed bytes of ``W`` (any view, e.g.
    ``weight.t()``) and ``quant_state.shape == [out_features, in_features]``."""
    if quant_state is None:
        raise ValueError("matmul_4bit: quant_state is None (the weight was never quantized)")
    if quant_state.shape is None or len(quant_state.shape) != 2:
        raise ValueError(
            f"matmul_4bit: the weight must be 2-D [out, in], its quant_state has shape {quant_state.shape}"
        )
    n_out, n_in = int(quant_state.shape[0]), int(quant_state.shape[1])
    if A.shape[-1] != n_in:
        if A.shape[-1] == n_out:
            if not torch.compiler.is_compiling():
                warnings.warn(
                    f"matmul_4bit: weight was quantized from a [K, N] tensor (quant_state.shape="
                    f"{list(quant_state.shape)}). Re-quantize from the weight in [N, K] (out_features, in_features) "
                    "orientation. This will be an error in a future version.",
                    DeprecationWarning,
                    stacklevel=2,
                )
            W = _dequantize_weight(B, quant_state, A.dtype)
            result = torch.nn.functional.linear(A, W.t(), bias)
            return result if out is None else out.copy_(result)
        raise ValueError(
            f"matmul_4bit: the input has {A.shape[-1]} features (last dimension of shape {tuple(A.shape)}) but the "
            f"4-bit weight [out_features, in_features] = [{n_out}, {n_in}] expects in_features={n_in}"
        )
    needs_grad = torch.is_grad_enabled() and (A.requires_grad or (bias is not None and bias.requires_grad))
    if needs_grad or A.dtype == torch.float64:  # the fused op has no float64 kernel: dense, as the original
        return MatMul4Bit.apply(A, B, out, bias, quant_state)
    if bias is not None and bias.dtype != A.dtype:
        bias = bias.to(A.dtype)
    # the op reads B's bytes through any view of them (e.g. weight.t()): no reshape needed
    result = _gemm_4bit(A, B, quant_state, bias)
    if out is not None:
        return out.copy_(result)
    return result
