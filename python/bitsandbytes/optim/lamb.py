"""LAMB: Adam with a trust ratio (the update norm limited to max_unorm * ||p||).

The 8-bit kernels have no trust-ratio pass: LAMB8bit steps as 8-bit Adam on every
backend (the original has no CUDA kernel for it).
"""

from __future__ import annotations

from ._variants import Variant, define
from .optimizer import Optimizer2State


def _lamb(
    self,
    params,
    lr=1e-3,
    bias_correction=True,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0,
    amsgrad=False,
    adam_w_mode=True,
    optim_bits=32,
    args=None,
    min_8bit_size=4096,
    max_unorm=1.0,
):
    Optimizer2State.__init__(
        self, "lamb", params, lr, betas, eps, weight_decay, optim_bits, args, min_8bit_size, max_unorm=max_unorm
    )


LAMB, LAMB8bit, LAMB32bit = define(
    __name__,
    Optimizer2State,
    _lamb,
    {
        "LAMB": Variant(),
        "LAMB8bit": Variant(bits=8, drop=("optim_bits",), check=("amsgrad", "max_unorm")),
        "LAMB32bit": Variant(bits=32, drop=("optim_bits",)),
    },
)
