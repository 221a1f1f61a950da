"""Quantized layers (bitsandbytes.nn)."""

# LLM.int8() (issue 5)
from .embedding_8bit import Embedding8bit
from .linear_8bit import Int8Params, Linear8bitLt

__all__ = ["Embedding8bit", "Int8Params", "Linear8bitLt"]
