"""Lion (sign of an interpolated momentum, decoupled weight decay) with 32-bit or 8-bit states."""

from __future__ import annotations

from ._variants import Variant, define
from .optimizer import Optimizer1State


def _lion(
    self,
    params,
    lr=1e-4,
    betas=(0.9, 0.99),
    weight_decay=0,
    optim_bits=32,
    args=None,
    min_8bit_size=4096,
    is_paged=False,
):
    Optimizer1State.__init__(
        self, "lion", params, lr, betas, 0.0, weight_decay, optim_bits, args, min_8bit_size, is_paged=is_paged
    )


_BOTH = ("optim_bits", "is_paged")
Lion, Lion8bit, Lion32bit, PagedLion, PagedLion8bit, PagedLion32bit = define(
    __name__,
    Optimizer1State,
    _lion,
    {
        "Lion": Variant(),
        "Lion8bit": Variant(bits=8, drop=("optim_bits",)),
        "Lion32bit": Variant(bits=32, drop=("optim_bits",)),
        "PagedLion": Variant(paged=True, drop=("is_paged",)),
        "PagedLion8bit": Variant(bits=8, paged=True, drop=_BOTH),
        "PagedLion32bit": Variant(bits=32, paged=True, drop=_BOTH),
    },
)
