"""Pure-PyTorch references of the two optimizer ops (the test oracle), written
from the update rules of shared/SPEC.md section 8, in fp32 with plain torch ops.

``ref_update_32bit`` updates (p, state1, state2) in place like
optimizer_update_32bit; ``ref_update_8bit_blockwise`` dequantizes the uint8
states, applies the same fp32 step, and requantizes them to the nearest code
(ties to the lower code, a signed-map state never rounds a nonzero value to 0).
"""

from __future__ import annotations

import math

import torch

DECOUPLED = {"adam", "lamb", "ademamix", "lion"}
TWO_STATE = {"adam", "lamb", "ademamix"}


def _f32(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float32)


def _direction(name, g, p, s1, s1b, s2, beta1, beta2, beta3, alpha, eps, step, weight_decay):
    """The new fp32 states and the update direction u (the kernels' scalars are fp32, as here)."""
    c1 = _f32(1 - beta1**step)
    c2 = _f32(math.sqrt(1 - beta2**step))
    beta1, beta2, beta3, alpha, eps, weight_decay = map(_f32, (beta1, beta2, beta3, alpha, eps, weight_decay))
    if name not in DECOUPLED:
        g = g + weight_decay * p
    if name in ("adam", "lamb"):
        m = beta1 * s1 + (1 - beta1) * g
        v = beta2 * s2 + (1 - beta2) * (g * g)
        return (c2 / c1) * (m / (v.sqrt() + eps * c2)), m, None, v
    if name == "ademamix":
        m1 = beta1 * s1 + (1 - beta1) * g
        m2 = beta3 * s1b + (1 - beta3) * g
        v = beta2 * s2 + (1 - beta2) * (g * g)
        return (m1 / c1 + alpha * m2) / (v.sqrt() / c2 + eps), m1, m2, v
    if name in ("momentum", "lars"):
        m = g.clone() if step == 1 else beta1 * s1 + g
        return m, m, None, None
    if name == "rmsprop":
        v = beta1 * s1 + (1 - beta1) * (g * g)
        return g / (v.sqrt() + eps), v, None, None
    if name == "adagrad":
        v = s1 + g * g
        return g / (v.sqrt() + eps), v, None, None
    if name == "lion":
        c = beta1 * s1 + (1 - beta1) * g
        m = beta2 * s1 + (1 - beta2) * g
        return torch.sign(c), m, None, None
    raise ValueError(name)


def _step(
    name,
    g32,
    p32,
    s1,
    s1b,
    s2,
    beta1,
    beta2,
    beta3,
    alpha,
    eps,
    step,
    lr,
    weight_decay,
    gnorm_scale,
    skip_zeros,
    max_unorm=0.0,
):
    g32 = g32 * _f32(gnorm_scale)
    active = torch.isfinite(g32)
    if skip_zeros:
        active &= g32 != 0
    gz = torch.where(active, g32, torch.zeros_like(g32))
    u, n1, n1b, n2 = _direction(name, gz, p32, s1, s1b, s2, beta1, beta2, beta3, alpha, eps, step, weight_decay)
    scale = 1.0
    unorm_sq = None
    if max_unorm > 0:
        unorm_sq = float((torch.where(active, u, torch.zeros_like(u)).double() ** 2).sum())
        unorm = math.sqrt(unorm_sq)
        pnorm = float(torch.norm(p32))
        if unorm > max_unorm * pnorm:
            scale = max_unorm * pnorm / unorm
    lr32, wd32 = _f32(lr), _f32(weight_decay)
    pn = p32 * (1 - lr32 * wd32) if name in DECOUPLED else p32
    pn = pn - (lr32 * _f32(scale)) * u
    out_p = torch.where(active, pn, p32)
    out1 = torch.where(active, n1, s1)
    out1b = torch.where(active, n1b, s1b) if n1b is not None else None
    out2 = torch.where(active, n2, s2) if n2 is not None else None
    return out_p, out1, out1b, out2, unorm_sq


def ref_update_32bit(
    name,
    g,
    p,
    state1,
    state2,
    beta1,
    beta2,
    beta3,
    alpha,
    eps,
    step,
    lr,
    weight_decay=0.0,
    gnorm_scale=1.0,
    skip_zeros=False,
    max_unorm=0.0,
):
    n = p.numel()
    s1 = state1.view(-1)[:n]
    s1b = state1.view(-1)[n:] if name == "ademamix" else None
    s2 = state2.view(-1) if state2 is not None else None
    pn, n1, n1b, n2, unorm_sq = _step(
        name,
        g.float().view(-1),
        p.float().view(-1),
        s1,
        s1b,
        s2,
        beta1,
        beta2,
        beta3,
        alpha,
        eps,
        step,
        lr,
        weight_decay,
        gnorm_scale,
        skip_zeros,
        max_unorm,
    )
    p.view(-1).copy_(pn.to(p.dtype))
    s1.copy_(n1)
    if s1b is not None:
        s1b.copy_(n1b)
    if s2 is not None:
        s2.copy_(n2)
    return unorm_sq


def nearest_code(x: torch.Tensor, code: torch.Tensor, fix_sign: bool) -> torch.Tensor:
    mids = (code[:-1] + code[1:]) * 0.5
    idx = torch.searchsorted(mids, x.contiguous(), right=False)  # count of mids < x: ties go to the lower code
    if fix_sign:
        zero = int(torch.nonzero(code == 0)[0])
        idx = torch.where((idx == zero) & (x < 0), idx - 1, idx)
        idx = torch.where((idx == zero) & (x > 0), idx + 1, idx)
    return idx.to(torch.uint8)


def _blocks(x, bs=256):
    n = x.numel()
    pad = (-n) % bs
    return torch.nn.functional.pad(x, (0, pad)).view(-1, bs), n


def _dequant(q, absmax, code):
    qb, n = _blocks(q.long())
    return (code[qb] * absmax.view(-1, 1)).view(-1)[:n]


def _requant(x, code, fix_sign):
    xb, n = _blocks(x)
    absmax = xb.abs().amax(dim=1)
    inv = torch.where(absmax > 0, 1.0 / absmax, torch.zeros_like(absmax))
    q = nearest_code((xb * inv.view(-1, 1)).view(-1), code, fix_sign)[:n]
    return q, absmax


def ref_update_8bit_blockwise(
    name,
    g,
    p,
    state1,
    state2,
    beta1,
    beta2,
    beta3,
    alpha,
    eps,
    step,
    lr,
    qmap1,
    qmap2,
    absmax1,
    absmax2,
    weight_decay=0.0,
    gnorm_scale=1.0,
    skip_zeros=False,
):
    name = {"lamb": "adam", "lars": "momentum"}.get(name, name)
    n = p.numel()
    signed = bool(qmap1[0] < 0)
    q1 = state1.view(-1)
    nb = absmax1.numel() // (2 if name == "ademamix" else 1)
    s1 = _dequant(q1[:n], absmax1.view(-1)[:nb], qmap1)
    s1b = _dequant(q1[n:], absmax1.view(-1)[nb:], qmap1) if name == "ademamix" else None
    s2 = _dequant(state2.view(-1), absmax2, qmap2) if name in TWO_STATE else None
    pn, n1, n1b, n2, _ = _step(
        name,
        g.float().view(-1),
        p.float().view(-1),
        s1,
        s1b,
        s2,
        beta1,
        beta2,
        beta3,
        alpha,
        eps,
        step,
        lr,
        weight_decay,
        gnorm_scale,
        skip_zeros,
    )
    p.view(-1).copy_(pn.to(p.dtype))
    nq, na = _requant(n1, qmap1, signed)
    q1[:n].copy_(nq)
    absmax1.view(-1)[:nb].copy_(na)
    if s1b is not None:
        nq, na = _requant(n1b, qmap1, signed)
        q1[n:].copy_(nq)
        absmax1.view(-1)[nb:].copy_(na)
    if s2 is not None:
        nq, na = _requant(n2, qmap2, False)
        state2.view(-1).copy_(nq)
        absmax2.copy_(na)
