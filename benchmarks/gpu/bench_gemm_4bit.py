"""4-bit matmul on the GPU (NF4 unless stated, bf16 activations): gemm_4bit with
each kernel (BNB_CUDA_GEMM_4BIT_FUSED: the default paths, the tensor-core kernel,
the SIMT tiles) next to torch's dense bf16 matmul and dequantize_4bit + cuBLAS,
against the roofline (reading the packed weight and its scales at the copy
bandwidth, or the flops at the dense bf16 rate). Also Linear4bit against
nn.Linear (the public API, so it runs with the original too)."""

from __future__ import annotations

import argparse

import torch

import bitsandbytes as bnb
import bitsandbytes.functional as F

from _gpu import FusedMode, copies_for, device_time, roofline_s, safe, table, us

ops = torch.ops.bitsandbytes


def weights(n: int, k: int, count: int, quant_type: str = "nf4", compress: bool = False):
    out = []
    for _ in range(count):
        w = torch.randn(n, k, dtype=torch.bfloat16, device="cuda")
        out.append(F.quantize_4bit(w, blocksize=64, quant_type=quant_type, compress_statistics=compress))
    return out


def weight_bytes(n: int, k: int, compress: bool) -> float:
    blocks = n * k / 64
    return n * k / 2 + (blocks + blocks / 256 * 4 if compress else blocks * 4)


def gemm(A, q, st):
    n, k = st.shape
    if st.nested:
        kw = dict(absmax_8bit=st.absmax, absmax_code=st.state2.code, absmax_offset=st.offset)
        return ops.gemm_4bit(A, q, [n, k], st.state2.absmax, st.blocksize, st.quant_type, **kw)
    return ops.gemm_4bit(A, q, [n, k], st.absmax, st.blocksize, st.quant_type)


def time_gemm(A, ws, mode: str | None) -> float | None:
    with FusedMode(mode):
        return safe(lambda: device_time(lambda i: gemm(A, *ws[i]), len(ws)))


def baselines(A, ws, dense):
    deq = safe(lambda: device_time(lambda i: A @ F.dequantize_4bit(*ws[i]).t(), len(ws)))
    bf16 = safe(lambda: device_time(lambda i: A @ dense[i].t(), len(dense)))
    return deq, bf16


def gemv_section(quick: bool) -> str:
    shapes = [(4096, 4096)] if quick else [(4096, 4096), (14336, 4096), (4096, 14336), (8192, 8192)]
    rows = []
    for n, k in shapes:
        ws = weights(n, k, copies_for(n * k // 2))
        dense = [torch.randn(n, k, dtype=torch.bfloat16, device="cuda") for _ in range(copies_for(2 * n * k))]
        for m in (1, 2, 3, 4):
            A = torch.randn(m, k, dtype=torch.bfloat16, device="cuda")
            nbytes = weight_bytes(n, k, False)
            ours, mma = time_gemm(A, ws, None), time_gemm(A, ws, "mma")
            deq, bf16 = baselines(A, ws, dense)
            roof = roofline_s(nbytes, 2 * m * n * k)
            best = min(t for t in (ours, mma) if t is not None) if (ours or mma) else None
            rows.append(
                [f"{n}x{k}", str(m), us(ours), f"{nbytes / ours / 1e9:.0f}" if ours else "-", us(mma), us(bf16),
                 us(deq), us(roof), f"{100 * roof / best:.0f}%" if best else "-"]
            )  # fmt: skip
    n = k = 8192
    for label, qt, compress, dtype in (
        ("fp4", "fp4", False, torch.bfloat16),
        ("nf4 nested", "nf4", True, torch.bfloat16),
        ("nf4 fp16", "nf4", False, torch.float16),
        ("nf4 fp32", "nf4", False, torch.float32),
    ):
        if quick:
            break
        ws = weights(n, k, copies_for(n * k // 2), qt, compress)
        A = torch.randn(1, k, dtype=dtype, device="cuda")
        nbytes = weight_bytes(n, k, compress)
        ours = time_gemm(A, ws, None)
        roof = roofline_s(nbytes)
        rows.append(
            [f"{n}x{k} {label}", "1", us(ours), f"{nbytes / ours / 1e9:.0f}" if ours else "-", "-", "-", "-",
             us(roof), f"{100 * roof / ours:.0f}%" if ours else "-"]
        )  # fmt: skip
    header = ["weight (N x K)", "batch", "gemm_4bit us", "GB/s", "mma kernel us", "bf16 dense us",
              "dequant+cuBLAS us", "roofline us", "% of roofline (best)"]  # fmt: skip
    return table("gemm_4bit, batch 1-4 (GEMV)", header, rows)


def gemm_section(quick: bool) -> str:
    shapes = [(4096, 4096)] if quick else [(4096, 4096), (14336, 4096)]
    batches = (16, 64, 256) if quick else (5, 8, 16, 32, 64, 128, 256, 512, 1024, 1536)
    rows = []
    for n, k in shapes:
        ws = weights(n, k, copies_for(n * k // 2))
        dense = [torch.randn(n, k, dtype=torch.bfloat16, device="cuda") for _ in range(copies_for(2 * n * k))]
        for m in batches:
            A = torch.randn(m, k, dtype=torch.bfloat16, device="cuda")
            fused, simt = time_gemm(A, ws, "1"), time_gemm(A, ws, "simt")
            default = time_gemm(A, ws, None)
            deq, bf16 = baselines(A, ws, dense)
            flops = 2 * m * n * k
            roof = roofline_s(weight_bytes(n, k, False) + 2 * m * (n + k), flops)
            rows.append(
                [f"{n}x{k}", str(m), us(fused), f"{flops / fused / 1e12:.0f}" if fused else "-", us(simt),
                 us(default), us(bf16), us(deq), us(roof), f"{100 * roof / fused:.0f}%" if fused else "-",
                 f"{deq / fused:.2f}x" if fused and deq else "-"]
            )  # fmt: skip
    header = ["weight (N x K)", "batch", "fused (mma) us", "TFLOP/s", "SIMT tiles us", "default path us",
              "bf16 dense us", "dequant+cuBLAS us", "roofline us", "% of roofline", "fused vs dequant+cuBLAS"]  # fmt: skip
    return table("gemm_4bit, batch 5-1536 (fused kernels behind BNB_CUDA_GEMM_4BIT_FUSED)", header, rows)


def linear_section(quick: bool) -> str:
    shapes = [(4096, 4096)] if quick else [(4096, 4096), (11008, 4096)]
    rows = []
    for n, k in shapes:
        count = copies_for(n * k // 2)
        dense = [torch.nn.Linear(k, n, bias=False, dtype=torch.bfloat16, device="cuda") for _ in range(2)]
        quant = []
        for i in range(count):
            layer = bnb.nn.Linear4bit(k, n, bias=False, compute_dtype=torch.bfloat16, quant_type="nf4")
            layer.weight = bnb.nn.Params4bit(dense[i % 2].weight.data.cpu().clone(), quant_type="nf4", module=layer)
            quant.append(layer.cuda().eval())
        for m in (1, 4, 8, 16, 32, 128):
            x = torch.randn(m, k, dtype=torch.bfloat16, device="cuda")
            with torch.inference_mode():
                q = safe(lambda: device_time(lambda i: quant[i](x), count))
                d = safe(lambda: device_time(lambda i: dense[i](x), 2))
            rows.append([f"{n}x{k}", str(m), us(q), us(d), f"{d / q:.2f}x" if q and d else "-"])
    return table("Linear4bit (nf4, bf16) vs nn.Linear (bf16)", ["weight", "batch", "Linear4bit us", "nn.Linear us",
                                                                 "speedup"], rows)  # fmt: skip


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    return "\n".join((gemv_section(args.quick), gemm_section(args.quick), linear_section(args.quick)))


if __name__ == "__main__":
    print(main())
