"""LARS: momentum SGD with a trust ratio (the update norm limited to max_unorm * ||p||).

LARS8bit steps as 8-bit momentum on every backend (no trust-ratio pass in the
8-bit kernels). PytorchLARS is the same algorithm in plain PyTorch.
"""

from __future__ import annotations

import torch

from ._variants import Variant, define
from .optimizer import Optimizer1State


def _lars(
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
    max_unorm=0.02,
):
    if momentum == 0:
        raise NotImplementedError("LARS without momentum is not supported!")
    Optimizer1State.__init__(
        self, "lars", params, lr, (momentum, dampening), 0.0, weight_decay, optim_bits, args, min_8bit_size, max_unorm
    )


LARS, LARS8bit, LARS32bit = define(
    __name__,
    Optimizer1State,
    _lars,
    {
        "LARS": Variant(),
        "LARS8bit": Variant(bits=8, drop=("optim_bits",)),
        "LARS32bit": Variant(bits=32, drop=("optim_bits",)),
    },
)


class PytorchLARS(torch.optim.Optimizer):
    """LARS in plain PyTorch (a reference for LARS): g += wd*p; m = g (step 1) else momentum*m + g;
    p -= lr * min(1, max_unorm*||p||/||m||) * m."""

    def __init__(self, params, lr=0.01, momentum=0, dampening=0, weight_decay=0, nesterov=False, max_unorm=0.02):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            max_unorm=max_unorm,
        )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad.float()
                p32 = p.float()
                if group["weight_decay"] != 0:
                    d_p = d_p.add(p32, alpha=group["weight_decay"])
                if group["momentum"] != 0:
                    st = self.state[p]
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = d_p.clone()
                    else:
                        buf.mul_(group["momentum"]).add_(d_p, alpha=1 - group["dampening"])
                    d_p = d_p.add(buf, alpha=group["momentum"]) if group["nesterov"] else buf
                scale = 1.0
                if group["max_unorm"] > 0.0:
                    pnorm = torch.norm(p32)
                    unorm = torch.norm(d_p)
                    if unorm > group["max_unorm"] * pnorm:
                        scale = float(group["max_unorm"] * pnorm / unorm)
                p.copy_(p32.add(d_p, alpha=-group["lr"] * scale))
        return loss
