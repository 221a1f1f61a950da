"""Quantized modules: 4-bit and 8-bit linear layers, their parameters, embeddings."""

from .modules import *  # noqa: F403
from .modules import __all__  # noqa: F401
