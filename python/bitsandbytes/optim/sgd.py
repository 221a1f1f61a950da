"""SGD with momentum (kernel "momentum"); SGD without momentum is not supported."""

from __future__ import annotations

from ._variants import Variant, define
from .optimizer import Optimizer1State


def _sgd(
    self,
    params,
    lr,
    momentum=0,
    dampening=0,
    weight_decay=0,
    nesterov=False,
    optim_bits=32,
    args=None,
    min_8bit_size=4096,
):
    if momentum == 0:
        raise NotImplementedError("SGD without momentum is not supported!")
    Optimizer1State.__init__(
        self, "momentum", params, lr, (momentum, dampening), 0.0, weight_decay, optim_bits, args, min_8bit_size
    )


SGD, SGD8bit, SGD32bit = define(
    __name__,
    Optimizer1State,
    _sgd,
    {
        "SGD": Variant(),
        "SGD8bit": Variant(bits=8, drop=("optim_bits",)),
        "SGD32bit": Variant(bits=32, drop=("optim_bits",)),
    },
)
