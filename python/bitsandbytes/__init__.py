"""bitsandbytes: k-bit quantization for PyTorch (4-bit NF4/FP4, LLM.int8(), 8-bit optimizers).

A from-scratch implementation with native torch ops (``torch.ops.bitsandbytes``);
names, signatures and checkpoint formats are those of bitsandbytes 0.50.2.
"""

from . import (  # noqa: F401  (cextension loads the native ops)
    _ops,  # noqa: F401  (fake kernels for torch.compile)
    autograd,
    cextension,
    functional,
    nn,
    optim,
    utils,
)
from .autograd._functions import MatMul4Bit, MatmulLtState, matmul, matmul_4bit  # noqa: F401
from .cextension import BNB_BACKEND as _BACKEND
from .nn import modules  # noqa: F401  (the original's top-level names)
from .optim import adam  # noqa: F401

__version__ = "0.50.2"

#: Read by Transformers and Accelerate: this package runs on several backends (the CPU included).
features = {"multi_backend"}

#: Device types the ops run on. Transformers intersects it with the available devices.
supported_torch_devices = {"cpu"} | ({"cuda"} if _BACKEND in ("CUDA", "ROCm") else set())
