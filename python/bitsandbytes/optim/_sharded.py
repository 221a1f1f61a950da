"""Optimizer states of sharded (DTensor) parameters, as FSDP2's ``fully_shard`` makes them.

Each rank keeps the states of its own shard: the update runs on the local tensors
(parameter, gradient, states) and the 8-bit blocks of 256 start at the shard's first
element. In ``state_dict()`` those per-rank states become DTensors laid out like the
parameter, so ``torch.distributed.checkpoint`` saves every shard and reshards on load:

- an elementwise state (``state1``/``state2``: 8-bit codes or fp32 values) takes the
  parameter's placements;
- an 8-bit state's ``absmax`` (one per 256 local elements) is expanded to one entry per
  element, the absmax of that element's block, so it reshards elementwise too.

``load_state_dict()`` turns them back into local blocks. A block whose elements share one
saved absmax keeps its codes and absmax as they are, so a resume on the same shards is
bit-exact; a block that spans two saved blocks (the shard boundaries moved with the number
of ranks) is dequantized and quantized again. docs/distributed.md describes the format.
"""

from __future__ import annotations

import math

import torch

from .. import functional as F

#: The blocksize of the 8-bit optimizer states.
BLOCKSIZE = 256
_ELEMENTWISE = ("state1", "state2")
_ABSMAX = {"absmax1": ("state1", "qmap1"), "absmax2": ("state2", "qmap2")}


def _dtensor_type():
    if not torch.distributed.is_available():
        return None
    from torch.distributed.tensor import DTensor

    return DTensor


def is_sharded(t: torch.Tensor) -> bool:
    """Whether ``t`` is a DTensor (a parameter or gradient sharded by FSDP2 / tensor parallelism)."""
    dtensor = _dtensor_type()
    return dtensor is not None and isinstance(t, dtensor)


def local(t: torch.Tensor) -> torch.Tensor:
    """This rank's part of ``t`` (``t`` itself when it is not a DTensor); it shares ``t``'s storage."""
    return t._local_tensor if is_sharded(t) else t


def check_supported(name: str, index, config: dict) -> None:
    """Reject what a per-shard update would silently get wrong."""
    if config["max_unorm"] > 0.0:
        raise NotImplementedError(
            f"{name}: parameter {index} is sharded (a DTensor, e.g. from FSDP2) and max_unorm="
            f"{config['max_unorm']} needs the norm of the whole parameter; each rank sees only its shard. "
            "Use max_unorm=0 (no LAMB/LARS trust ratio) with sharded parameters."
        )


def _placements_for(p: torch.Tensor, extra_dims: int):
    from torch.distributed.tensor import Shard

    return tuple(Shard(pl.dim + extra_dims) if isinstance(pl, Shard) else pl for pl in p.placements)


def _as_dtensor(t: torch.Tensor, p: torch.Tensor):
    """Local state ``t`` (shaped like the local shard, maybe with leading copies) as a DTensor laid out like ``p``."""
    dtensor = _dtensor_type()
    extra = t.dim() - local(p).dim()
    shape = (*t.shape[:extra], *p.shape)
    return dtensor.from_local(
        t,
        p.device_mesh,
        _placements_for(p, extra),
        run_check=False,
        shape=torch.Size(shape),
        stride=tuple(torch.empty(shape, device="meta").stride()),
    )


def _to_local(value, p: torch.Tensor):
    """A loaded DTensor state as this rank's part, laid out like ``p`` (plain values pass through)."""
    if not is_sharded(value):
        return value
    extra = value.dim() - p.dim()
    want = _placements_for(p, extra)
    if tuple(value.placements) != want or value.device_mesh != p.device_mesh:
        value = value.redistribute(p.device_mesh, want)
    return value.to_local()


def export_state(st: dict, p: torch.Tensor) -> dict:
    """The state of sharded parameter ``p`` with its per-rank tensors as DTensors (see the module doc)."""
    out = dict(st)
    for key in _ELEMENTWISE:
        if key in st:
            out[key] = _as_dtensor(st[key], p)
    for key, (codes_key, _) in _ABSMAX.items():
        if key in st and st[codes_key].dtype == torch.uint8:
            codes = st[codes_key]
            absmax = st[key].reshape(-1, st[key].shape[-1])
            n = local(p).numel()
            per_element = absmax.repeat_interleave(BLOCKSIZE, dim=1)[:, :n].reshape(codes.shape)
            out[key] = _as_dtensor(per_element.contiguous(), p)
    return out


def import_state(st: dict, p: torch.Tensor) -> dict:
    """Inverse of :func:`export_state` for the shard of ``p`` this rank holds now. It also takes
    the gathered form (``full_state_dict=True``: plain tensors, absmax per element) for a plain
    parameter, and passes a state dict of one absmax per block through unchanged."""
    out = {k: _to_local(v, p) if k in _ELEMENTWISE or k in _ABSMAX else v for k, v in st.items()}
    for key, (codes_key, qmap_key) in _ABSMAX.items():
        codes = out.get(codes_key)
        scale = out.get(key)
        if codes is None or scale is None or codes.dtype != torch.uint8 or scale.numel() != codes.numel():
            continue  # already one absmax per block (a state_dict of unsharded parameters)
        if codes.numel() <= 1:
            out[key] = scale.reshape(-1)
            continue
        copies = 2 if codes.dim() > local(p).dim() else 1
        new_codes, absmax = reblock(codes.reshape(copies, -1), scale.reshape(copies, -1), out[qmap_key])
        out[codes_key] = new_codes.reshape(codes.shape)
        out[key] = absmax if copies == 2 else absmax.reshape(-1)
    return out


def reblock(codes: torch.Tensor, scale: torch.Tensor, qmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 ``codes`` ``[copies, n]`` with a per-element absmax ``scale`` -> codes and one absmax per
    block of 256. Blocks with one saved absmax keep their codes; the others are quantized again."""
    copies, n = codes.shape
    blocks = math.ceil(n / BLOCKSIZE)
    pad = blocks * BLOCKSIZE - n
    padded = torch.cat([scale, scale[:, -1:].expand(copies, pad)], dim=1) if pad else scale
    padded = padded.reshape(copies, blocks, BLOCKSIZE)
    hi, lo = padded.amax(dim=2), padded.amin(dim=2)
    same = hi == lo
    if bool(same.all()):
        return codes, hi
    values = qmap.to(codes.device)[codes.long()] * scale
    new_codes, new_absmax = [], []
    for row in values:
        q, a = F._ops().quantize_blockwise.default(row.contiguous(), qmap.to(row.device), BLOCKSIZE)
        new_codes.append(q)
        new_absmax.append(a)
    keep = same.repeat_interleave(BLOCKSIZE, dim=1)[:, :n]
    return torch.where(keep, codes, torch.stack(new_codes)), torch.where(same, hi, torch.stack(new_absmax))
