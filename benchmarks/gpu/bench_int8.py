"""LLM.int8() on the GPU: int8_linear_matmul (int32 out) and int8_scaled_mm (rescale
fused, bf16 out) for decode and prefill batches on 4096 x 4096, next to torch's
bf16 matmul and its raw int8 GEMM (torch._int_mm, cuBLASLt); and Linear8bitLt
forward with and without the outlier decomposition next to nn.Linear. The
roofline is reading A and B and writing the output at the copy bandwidth, or the
int8 ops at twice the measured dense bf16 rate (the int8 tensor-core rate of
H100/H200), whichever is longer."""

from __future__ import annotations

import argparse
import warnings

import torch

import bitsandbytes as bnb

from _gpu import copies_for, device_time, rooflines, safe, table, us

ops = torch.ops.bitsandbytes


def int8_roofline_s(m: int, n: int, k: int, out_bytes: int) -> float:
    r = rooflines()
    moved = m * k + n * k + m * n * out_bytes
    return max(moved / (r["bandwidth_gbs"] * 1e9), 2 * m * n * k / (2 * r["bf16_tflops"] * 1e12))


def matmul_section(quick: bool) -> str:
    n = k = 4096
    rows = []
    count = copies_for(n * k)
    Bs = [torch.randint(-128, 128, (n, k), dtype=torch.int8, device="cuda") for _ in range(count)]
    dense = [torch.randn(n, k, dtype=torch.bfloat16, device="cuda") for _ in range(copies_for(2 * n * k))]
    cs = torch.rand(n, device="cuda")
    for m in (1, 16, 512) if quick else (1, 4, 8, 16, 17, 64, 512, 4096):
        A = torch.randint(-128, 128, (m, k), dtype=torch.int8, device="cuda")
        rs = torch.rand(m, device="cuda")
        Af = torch.randn(m, k, dtype=torch.bfloat16, device="cuda")
        i32 = safe(lambda: device_time(lambda i: ops.int8_linear_matmul(A, Bs[i]), count))
        scaled = safe(lambda: device_time(lambda i: ops.int8_scaled_mm(A, Bs[i], rs, cs, None, torch.bfloat16), count))
        raw = safe(lambda: device_time(lambda i: torch._int_mm(A, Bs[i].t()), count)) if m > 16 else None
        bf16 = safe(lambda: device_time(lambda i: Af @ dense[i].t(), len(dense)))
        roof = int8_roofline_s(m, n, k, 2)
        ops_s = 2 * m * n * k
        rows.append(
            [str(m), us(i32), us(scaled), f"{ops_s / scaled / 1e12:.1f}" if scaled else "-", us(raw), us(bf16),
             us(roof), f"{100 * roof / scaled:.0f}%" if scaled else "-"]
        )  # fmt: skip
    header = ["batch (x 4096 x 4096)", "int8_linear_matmul us", "int8_scaled_mm us", "TOPS", "torch._int_mm us",
              "bf16 matmul us", "roofline us", "% of roofline"]  # fmt: skip
    return table("int8 GEMM", header, rows)


def linear_section(quick: bool) -> str:
    warnings.simplefilter("ignore")
    dim = 4096
    rows = []
    W = torch.randn(dim, dim) / dim**0.5
    layers = {}
    for thr in (0.0, 6.0):
        lin = bnb.nn.Linear8bitLt(dim, dim, bias=True, has_fp16_weights=False, threshold=thr)
        lin.weight = bnb.nn.Int8Params(W.clone(), requires_grad=False, has_fp16_weights=False)
        layers[thr] = lin.cuda().eval()
    ref = torch.nn.Linear(dim, dim).to(torch.bfloat16).cuda().eval()
    for tokens in (1, 16, 512) if quick else (1, 16, 512, 4096):
        x = torch.randn(tokens, dim, device="cuda")
        x[:, [7, 300]] *= 20  # two outlier features
        xb = x.to(torch.bfloat16)
        with torch.no_grad():
            t = {thr: safe(lambda lin=lin: device_time(lambda i: lin(xb), 1)) for thr, lin in layers.items()}
            d = safe(lambda: device_time(lambda i: ref(xb), 1))
        rows.append([str(tokens), us(t[0.0]), us(t[6.0]), us(d)])
    header = ["tokens (x 4096 -> 4096)", "Linear8bitLt thr=0 us", "Linear8bitLt thr=6 us", "nn.Linear bf16 us"]
    return table("Linear8bitLt forward (bf16)", header, rows)


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    return "\n".join((matmul_section(args.quick), linear_section(args.quick)))


if __name__ == "__main__":
    print(main())
