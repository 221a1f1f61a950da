"""AdEMAMix: Adam with a second, slow EMA of the gradient (m2, weight alpha); state1 holds (m1, m2).

alpha and beta3 warm up over t_alpha / t_beta3 steps when those are given.
"""

from __future__ import annotations

from ._variants import Variant, define
from .optimizer import Optimizer2State


def _ademamix(
    self,
    params,
    lr=1e-3,
    betas=(0.9, 0.999, 0.9999),
    alpha=5.0,
    t_alpha=None,
    t_beta3=None,
    eps=1e-8,
    weight_decay=1e-2,
    optim_bits=32,
    min_8bit_size=4096,
    is_paged=False,
):
    Optimizer2State.__init__(
        self,
        "ademamix",
        params,
        lr=lr,
        betas=betas,
        eps=eps,
        weight_decay=weight_decay,
        optim_bits=optim_bits,
        args=None,
        min_8bit_size=min_8bit_size,
        max_unorm=0.0,
        skip_zeros=False,
        is_paged=is_paged,
        alpha=alpha,
        t_alpha=t_alpha,
        t_beta3=t_beta3,
    )


_BOTH = ("optim_bits", "is_paged")
AdEMAMix, AdEMAMix8bit, PagedAdEMAMix8bit, PagedAdEMAMix, AdEMAMix32bit, PagedAdEMAMix32bit = define(
    __name__,
    Optimizer2State,
    _ademamix,
    {
        "AdEMAMix": Variant(),
        "AdEMAMix8bit": Variant(bits=8, drop=("optim_bits",), base="AdEMAMix"),
        "PagedAdEMAMix8bit": Variant(bits=8, paged=True, drop=_BOTH, base="AdEMAMix8bit"),
        "PagedAdEMAMix": Variant(paged=True, drop=("is_paged",), base="AdEMAMix"),
        "AdEMAMix32bit": Variant(bits=32, drop=("optim_bits",)),
        "PagedAdEMAMix32bit": Variant(bits=32, paged=True, drop=_BOTH, base="AdEMAMix32bit"),
    },
)
