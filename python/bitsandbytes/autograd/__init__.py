"""Autograd functions of the quantized matmuls."""

from .matmul_8bit import MatMul8bitFp, MatMul8bitLt, MatmulLtState, matmul  # noqa: F401

__all__ = ["MatMul8bitFp", "MatMul8bitLt", "MatmulLtState", "matmul"]
