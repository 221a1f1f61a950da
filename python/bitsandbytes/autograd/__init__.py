"""Autograd functions of the quantized matmuls."""

from ._functions import *  # noqa: F403
from ._functions import __all__  # noqa: F401
