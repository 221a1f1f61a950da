"""Adagrad (kernel "adagrad"); lr_decay and initial_accumulator_value must be 0."""

from __future__ import annotations

from ._variants import Variant, define
from .optimizer import Optimizer1State


def _adagrad(
    self,
    params,
    lr=1e-2,
    lr_decay=0,
    weight_decay=0,
    initial_accumulator_value=0,
    eps=1e-10,
    optim_bits=32,
    args=None,
    min_8bit_size=4096,
):
    if initial_accumulator_value != 0.0:
        raise ValueError("Initial accumulator value != 0.0 not supported!")
    if lr_decay != 0.0:
        raise ValueError("Lr Decay != 0.0 not supported!")
    Optimizer1State.__init__(
        self, "adagrad", params, lr, (0.0, 0.0), eps, weight_decay, optim_bits, args, min_8bit_size
    )


Adagrad, Adagrad8bit, Adagrad32bit = define(
    __name__,
    Optimizer1State,
    _adagrad,
    {
        "Adagrad": Variant(),
        "Adagrad8bit": Variant(bits=8, defaults={"optim_bits": 8}, check=("optim_bits",)),
        "Adagrad32bit": Variant(bits=32),
    },
)
