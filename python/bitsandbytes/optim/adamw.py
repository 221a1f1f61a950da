"""AdamW with 32-bit or 8-bit blockwise states (kernel "adam" with decoupled weight decay)."""

from __future__ import annotations

from ._variants import Variant, define
from .optimizer import Optimizer2State


def _adamw(
    self,
    params,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=1e-2,
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
AdamW, AdamW8bit, AdamW32bit, PagedAdamW, PagedAdamW8bit, PagedAdamW32bit = define(
    __name__,
    Optimizer2State,
    _adamw,
    {
        "AdamW": Variant(),
        "AdamW8bit": Variant(bits=8, check=_8BIT),
        "AdamW32bit": Variant(bits=32),
        "PagedAdamW": Variant(paged=True, drop=("is_paged",)),
        "PagedAdamW8bit": Variant(bits=8, paged=True, drop=("is_paged",), check=_8BIT),
        "PagedAdamW32bit": Variant(bits=32, paged=True, drop=("is_paged",)),
    },
)
