"""RMSprop (kernel "rmsprop"; the betas slot carries (alpha, momentum)). Centered RMSprop is not supported."""

from __future__ import annotations

from ._variants import Variant, define
from .optimizer import Optimizer1State


def _rmsprop(
    self,
    params,
    lr=1e-2,
    alpha=0.99,
    eps=1e-8,
    weight_decay=0,
    momentum=0,
    centered=False,
    optim_bits=32,
    args=None,
    min_8bit_size=4096,
):
    # the Trainer passes optim_args as strings ("optim_args='alpha=0.9,centered=False'")
    if isinstance(centered, str):
        centered = centered.strip().lower() in ("1", "true", "yes")
    if float(alpha) == 0:
        raise NotImplementedError("RMSprop with alpha==0.0 is not supported!")
    if centered:
        raise NotImplementedError("Centered RMSprop is not supported!")
    alpha, momentum, eps = float(alpha), float(momentum), float(eps)
    Optimizer1State.__init__(
        self, "rmsprop", params, lr, (alpha, momentum), eps, weight_decay, optim_bits, args, min_8bit_size
    )


RMSprop, RMSprop8bit, RMSprop32bit = define(
    __name__,
    Optimizer1State,
    _rmsprop,
    {
        "RMSprop": Variant(),
        "RMSprop8bit": Variant(bits=8, drop=("optim_bits",)),
        "RMSprop32bit": Variant(bits=32, drop=("optim_bits",)),
    },
)
