"""The autograd functions, under the original's module path ``bitsandbytes.autograd._functions``."""

from .matmul_4bit import MatMul4Bit, matmul_4bit
from .matmul_8bit import MatMul8bitFp, MatMul8bitLt, MatmulLtState, matmul

__all__ = ["MatMul4Bit", "MatMul8bitFp", "MatMul8bitLt", "MatmulLtState", "matmul", "matmul_4bit"]
