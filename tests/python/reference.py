"""Pure-PyTorch reference of every op: the test oracle. Written from SPEC.md,
independent of the package's native code (its tables are SPEC's literals)."""

from __future__ import annotations

import torch

NF4 = torch.tensor(
    [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
     -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
     0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0]
)  # fmt: skip
# index 8 is +0 (the original's table, and so its checkpoints' quant_map, has +0 there)
FP4 = torch.tensor([0, 0.0625, 8, 12, 4, 6, 2, 3, 0.0, -0.0625, -8, -12, -4, -6, -2, -3]) / 12
CODES_4BIT = {"nf4": NF4, "fp4": FP4}


def _sorted_and_midpoints(code: torch.Tensor):
    # stable sort keeps +0 (index 0) before -0 (index 8) for FP4
    values, order = torch.sort(code, stable=True)
    mids = (values[1:] + values[:-1]) / 2
    return order, mids


def _blocks(A: torch.Tensor, blocksize: int) -> tuple[torch.Tensor, int]:
    x = A.float().reshape(-1)
    n = x.numel()
    pad = (-n) % blocksize
    return torch.cat([x, x.new_zeros(pad)]).view(-1, blocksize), n


def quantize_4bit(A: torch.Tensor, blocksize: int, quant_type: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed uint8 bytes ((n+1)//2,) and fp32 absmax (ceil(n/bs),)."""
    order, mids = _sorted_and_midpoints(CODES_4BIT[quant_type])
    blocks, n = _blocks(A, blocksize)
    raw = blocks.abs().amax(1)  # NaN propagates
    clamped = torch.where(raw.isnan(), raw, raw.clamp_min(1e-38))
    scaled = blocks * (1.0 / clamped)[:, None]
    if n % blocksize:  # the partial last block divides by its absmax (docs/formats.md)
        scaled[-1] = blocks[-1] / clamped[-1]
    # stored: the raw maximum of full blocks, the clamped one of a partial last block
    absmax = raw.clone()
    if n % blocksize:
        absmax[-1] = clamped[-1]
    pos = (scaled[..., None] > mids).sum(-1)
    pos = torch.where(scaled.isnan(), 15, pos)
    codes = order[pos].reshape(-1)[: n + (n % 2)].to(torch.uint8)
    if n % 2:  # the pad nibble is the code of 0.0 whatever the block's absmax
        codes[-1] = order[(mids < 0).sum()]
    packed = (codes[0::2] << 4) | codes[1::2]
    return packed, absmax


def dequantize_4bit(packed: torch.Tensor, absmax: torch.Tensor, blocksize: int, quant_type: str, shape, dtype):
    b = packed.reshape(-1).view(torch.uint8)
    n = 1
    for d in shape:
        n *= d
    codes = torch.stack([b >> 4, b & 15], 1).reshape(-1)[:n].long()
    values = CODES_4BIT[quant_type][codes] * absmax.repeat_interleave(blocksize)[:n]
    return values.to(dtype).reshape(shape)


def grid_lut(code: torch.Tensor) -> torch.Tensor:
    """Nearest code (first on ties) for each of the 65536 grid points k*(2/65535) - 1 (fp32)."""
    step = torch.tensor(2.0 / 65535.0, dtype=torch.float32)
    g = torch.arange(65536, dtype=torch.float32) * step - 1.0
    out = torch.empty(65536, dtype=torch.uint8)
    for i in range(0, 65536, 4096):
        out[i : i + 4096] = (g[i : i + 4096, None] - code[None, :].float()).abs().argmin(1).to(torch.uint8)
    return out


def quantize_blockwise(A: torch.Tensor, code: torch.Tensor, blocksize: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The CPU reference bytes: snap to the 65536-point grid, then its nearest code."""
    blocks, n = _blocks(A, blocksize)
    mag = blocks.abs()
    absmax = torch.where(mag.isnan(), 0.0, mag).amax(1)  # NaNs skipped
    scaled = blocks * (1.0 / absmax)[:, None]
    v = (scaled + 1.0) * 32767.5
    v = v + 0.5
    idx = torch.where(v.isnan(), 0.0, v.clamp(0.0, 65535.0)).long()
    q = grid_lut(code)[idx].reshape(-1)[:n]
    return q.reshape(A.shape), absmax


def quantize_blockwise_nearest(
    A: torch.Tensor, code: torch.Tensor, blocksize: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact nearest code (ties to the lower index): the GPU kernels' rule."""
    blocks, n = _blocks(A, blocksize)
    mag = blocks.abs()
    absmax = torch.where(mag.isnan(), 0.0, mag).amax(1)
    scaled = (blocks * (1.0 / absmax)[:, None]).reshape(-1)
    q = (scaled[:, None] - code[None, :]).abs().argmin(1).to(torch.uint8)[:n]
    return q.reshape(A.shape), absmax


def dequantize_blockwise(q: torch.Tensor, absmax: torch.Tensor, code: torch.Tensor, blocksize: int, dtype):
    n = q.numel()
    values = code[q.reshape(-1).long()] * absmax.repeat_interleave(blocksize)[:n]
    return values.to(dtype).reshape(q.shape)


def gemm_4bit(
    A: torch.Tensor,
    packed: torch.Tensor,
    shapeB,
    absmax: torch.Tensor,
    blocksize: int,
    quant_type: str,
    bias=None,
    code=None,
) -> torch.Tensor:
    """A @ W.T (+ bias): W dequantized to A's dtype, the product accumulated in fp64 and rounded to A's dtype."""
    table = CODES_4BIT[quant_type] if code is None else code
    b = packed.reshape(-1).view(torch.uint8)
    n = shapeB[0] * shapeB[1]
    codes = torch.stack([b >> 4, b & 15], 1).reshape(-1)[:n].long()
    w = (table[codes] * absmax.repeat_interleave(blocksize)[:n]).to(A.dtype).reshape(shapeB)
    y = A.double() @ w.double().T
    if bias is not None:
        y = y + bias.double()
    return y.to(A.dtype)


def nested_absmax(absmax_8bit: torch.Tensor, nested_absmax: torch.Tensor, absmax_code: torch.Tensor, offset):
    """The per-block scales of a double-quantized absmax (blocks of 256)."""
    return absmax_code[absmax_8bit.long()] * nested_absmax.repeat_interleave(256)[: absmax_8bit.numel()] + offset
