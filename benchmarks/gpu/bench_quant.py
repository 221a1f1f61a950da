"""Bandwidth-bound ops on the GPU, the cases of the CPU benchmarks: 4-bit
quantize / dequantize (64 Mi elements), 8-bit blockwise quantize / dequantize, and
an optimizer step (32 Mi parameters) of the 8-bit and 32-bit optimizers next to
torch's fused AdamW. The roofline is moving each op's bytes at the copy bandwidth."""

from __future__ import annotations

import argparse

import torch

import bitsandbytes as bnb
import bitsandbytes.functional as F

from _gpu import device_time, roofline_s, safe, table, us


def row(case: str, n: int, t: float | None, nbytes: float) -> list[str]:
    roof = roofline_s(nbytes)
    return [case, us(t), f"{nbytes / t / 1e9:.0f}" if t else "-", us(roof), f"{100 * roof / t:.0f}%" if t else "-"]


def quant_rows(n: int) -> list[list[str]]:
    rows = []
    for dtype in (torch.bfloat16, torch.float32):
        x = torch.randn(n, dtype=dtype, device="cuda")
        es = x.element_size()
        for qt in ("nf4", "fp4"):
            t = safe(lambda: device_time(lambda i: F.quantize_4bit(x, blocksize=64, quant_type=qt), 1))
            rows.append(row(f"quantize_4bit {qt} {str(dtype)[6:]} bs64", n, t, n * (es + 0.5 + 4 / 64)))
            q, st = F.quantize_4bit(x, blocksize=64, quant_type=qt)
            t = safe(lambda: device_time(lambda i: F.dequantize_4bit(q, st), 1))
            rows.append(row(f"dequantize_4bit {qt} ->{str(dtype)[6:]} bs64", n, t, n * (es + 0.5 + 4 / 64)))
        for bs in (256, 4096):
            t = safe(lambda: device_time(lambda i: F.quantize_blockwise(x, blocksize=bs), 1))
            rows.append(row(f"quantize_blockwise {str(dtype)[6:]} bs{bs}", n, t, n * (es + 1 + 4 / bs)))
        q, st = F.quantize_blockwise(x, blocksize=4096)
        t = safe(lambda: device_time(lambda i: F.dequantize_blockwise(q, st), 1))
        rows.append(row(f"dequantize_blockwise ->{str(dtype)[6:]} bs4096", n, t, n * (es + 1 + 4 / 4096)))
    return rows


def optimizer_rows(n: int) -> list[list[str]]:
    rows = []
    cases = [
        ("AdamW8bit", lambda ps: bnb.optim.AdamW8bit(ps, lr=1e-3), 2, 1 + 4 / 256),
        ("Lion8bit", lambda ps: bnb.optim.Lion8bit(ps, lr=1e-4), 1, 1 + 4 / 256),
        ("AdamW 32-bit states", lambda ps: bnb.optim.AdamW(ps, lr=1e-3), 2, 4),
        ("torch.optim.AdamW fused", lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True), 2, 4),
    ]
    for dtype in (torch.float32, torch.bfloat16):
        for name, make, states, state_bytes in cases:
            if name.startswith("torch") and dtype != torch.float32:
                continue
            p = torch.nn.Parameter(torch.randn(n, dtype=dtype, device="cuda") * 0.1)
            p.grad = torch.randn(n, dtype=dtype, device="cuda") * 0.01
            opt = make([p])
            opt.step()  # creates the states
            t = safe(lambda: device_time(lambda i: opt.step(), 1))
            es = p.element_size()
            rows.append(row(f"{name} {str(dtype)[6:]}", n, t, n * (3 * es + 2 * states * state_bytes)))
    return rows


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    n = (8 if args.quick else 64) << 20
    header = ["case", "us", "GB/s", "roofline us", "% of roofline"]
    return "\n".join(
        (
            table(f"Quantization ({n >> 20} Mi elements)", header, quant_rows(n)),
            table(f"Optimizer step ({n >> 21} Mi parameters)", header, optimizer_rows(n // 2)),
        )
    )


if __name__ == "__main__":
    print(main())
