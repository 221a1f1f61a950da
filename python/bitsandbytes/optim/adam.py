"""Adam with 32-bit or 8-bit blockwise states (kernel "adam"; weight decay is decoupled)."""

from __future__ import annotations

from ._variants import Variant, define
from .optimizer import Optimizer2State


def _adam(
    self,
    params,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0,
    amsgrad=False,
    optim_bits=32,
    args=None,
    min_8bit_size=4096,
    is_paged=False,
):
    Optimizer2State.__init__(
        self, "adam", params, lr, betas, eps, weight_decay, optim_bits, args, min_8bit_size, is_paged=is_paged
    )


_8BIT = ("amsgrad", "optim_bits")
Adam, Adam8bit, Adam32bit, PagedAdam, PagedAdam8bit, PagedAdam32bit = define(
    __name__,
    Optimizer2State,
    _adam,
    {
        "Adam": Variant(),
        "Adam8bit": Variant(bits=8, check=_8BIT),
        "Adam32bit": Variant(bits=32),
        "PagedAdam": Variant(paged=True),
        "PagedAdam8bit": Variant(bits=8, paged=True, check=_8BIT),
        "PagedAdam32bit": Variant(bits=32, paged=True),
    },
)
