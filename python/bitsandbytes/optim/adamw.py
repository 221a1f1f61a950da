"""AdamW with 32-bit or 8-bit blockwise states: Adam's constructor (kernel "adam", whose weight decay is
decoupled) with weight_decay 1e-2 by default."""

from __future__ import annotations

from ._variants import Variant, define
from .adam import _8BIT, _adam
from .optimizer import Optimizer2State

_WD = {"weight_decay": 1e-2}
AdamW, AdamW8bit, AdamW32bit, PagedAdamW, PagedAdamW8bit, PagedAdamW32bit = define(
    __name__,
    Optimizer2State,
    _adam,
    {
        "AdamW": Variant(defaults=_WD),
        "AdamW8bit": Variant(bits=8, defaults=_WD, check=_8BIT),
        "AdamW32bit": Variant(bits=32, defaults=_WD),
        "PagedAdamW": Variant(paged=True, drop=("is_paged",), defaults=_WD),
        "PagedAdamW8bit": Variant(bits=8, paged=True, drop=("is_paged",), defaults=_WD, check=_8BIT),
        "PagedAdamW32bit": Variant(bits=32, paged=True, drop=("is_paged",), defaults=_WD),
    },
)
