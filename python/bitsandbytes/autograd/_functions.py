"""The autograd functions, under the original's module path ``bitsandbytes.autograd._functions``."""

from .matmul_4bit import MatMul4Bit, matmul_4bit

__all__ = ["MatMul4Bit", "matmul_4bit"]
