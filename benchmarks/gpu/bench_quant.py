"""Bandwidth-bound ops on the GPU, the cases of the CPU benchmarks: 4-bit
quantize / dequantize (64 Mi elements), 8-bit blockwise quantize / dequantize, and
an optimizer step (32 Mi parameters) of the 8-bit and 32-bit optimizers next to
torch's fused AdamW; AdamW8bit on 128 Mi parameters; LLM.int8() row (and
double) quantization with and without outlier columns, the mask form (nothing
read back to the host) next to the int64 column list. The roofline is moving
each op's bytes (read once, written once) at the copy bandwidth."""

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
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        x = torch.randn(n, dtype=dtype, device="cuda")
        es = x.element_size()
        for bs in (128, 4096):  # several blocks per thread block / one block per thread block
            t = safe(lambda: device_time(lambda i: F.quantize_4bit(x, blocksize=bs, quant_type="nf4"), 1))
            rows.append(row(f"quantize_4bit nf4 {str(dtype)[6:]} bs{bs}", n, t, n * (es + 0.5 + 4 / bs)))
        for qt in ("nf4", "fp4"):
            t = safe(lambda: device_time(lambda i: F.quantize_4bit(x, blocksize=64, quant_type=qt), 1))
            rows.append(row(f"quantize_4bit {qt} {str(dtype)[6:]} bs64", n, t, n * (es + 0.5 + 4 / 64)))
            q, st = F.quantize_4bit(x, blocksize=64, quant_type=qt)
            t = safe(lambda: device_time(lambda i: F.dequantize_4bit(q, st), 1))
            rows.append(row(f"dequantize_4bit {qt} ->{str(dtype)[6:]} bs64", n, t, n * (es + 0.5 + 4 / 64)))
        for bs in (64, 256, 4096):
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


def large_optimizer_rows(n: int) -> list[list[str]]:
    """AdamW8bit on n parameters (one tensor): g and p read, p written, two 8-bit states read and written."""
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        p = torch.nn.Parameter(torch.randn(n, dtype=dtype, device="cuda") * 0.1)
        p.grad = torch.randn(n, dtype=dtype, device="cuda") * 0.01
        opt = bnb.optim.AdamW8bit([p], lr=1e-3)
        opt.step()
        t = safe(lambda opt=opt: device_time(lambda i: opt.step(), 1))
        rows.append(row(f"AdamW8bit {str(dtype)[6:]} {n >> 20} Mi", n, t, n * (3 * p.element_size() + 4 + 16 / 256)))
        del opt, p
        torch.cuda.empty_cache()
    return rows


def int8_rows(tokens: int, dim: int = 4096) -> list[list[str]]:
    """int8_vectorwise_quant / int8_double_quant of [tokens, dim] fp16 (threshold 6: two outlier columns; the
    .mask overloads read nothing back to the host, the default ones list the columns); the bytes are A read
    once and the codes and statistics written once."""
    x = torch.randn(tokens, dim, dtype=torch.float16, device="cuda")
    x[:, [7, 300]] *= 20
    n = tokens * dim
    rows = []
    for thr in (0.0, 6.0):
        for name, per in (("int8_vectorwise_quant", 3), ("int8_double_quant", 4)):
            for overload in ("default", "mask") if thr else ("default",):
                op = getattr(getattr(torch.ops.bitsandbytes, name, None), overload, None)
                if op is None:  # not in this implementation
                    continue
                t = safe(lambda op=op: device_time(lambda i: op(x, thr), 1))
                case = f"{name}{'.mask' if overload == 'mask' else ''} thr={thr:g} {tokens}x{dim} fp16"
                rows.append(row(case, n, t, n * per + 4 * (tokens + dim)))
    return rows


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    n = (8 if args.quick else 64) << 20
    header = ["case", "us", "GB/s", "roofline us", "% of roofline"]
    big = (32 if args.quick else 128) << 20
    int8 = [r for tokens in ((512,) if args.quick else (16, 512, 4096, 16384)) for r in int8_rows(tokens)]
    return "\n".join(
        (
            table(f"Quantization ({n >> 20} Mi elements)", header, quant_rows(n)),
            table(f"Optimizer step ({n >> 21} Mi parameters)", header, optimizer_rows(n // 2)),
            table(f"AdamW8bit step ({big >> 20} Mi parameters)", header, large_optimizer_rows(big)),
            table("LLM.int8() quantization", header, int8),
        )
    )


if __name__ == "__main__":
    print(main())
