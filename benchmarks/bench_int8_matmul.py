"""int8 GEMM throughput (ops/s = 2*M*N*K per second): int8_linear_matmul (int32 out),
int8_scaled_mm (rescale fused, bf16 out) and torch's fp32 / bf16 matmul on the same
shapes, against the machine's int8 compute peak (AVX512-VNNI: 128 ops/cycle/core)."""

import os

import torch

import bitsandbytes  # noqa: F401  (registers the ops)

from _common import parser, report, timeit

ops = torch.ops.bitsandbytes


def vnni_peak_ops() -> float:
    """128 int8 ops per cycle per core (one 512-bit vpdpbusd per cycle) at BNB_BENCH_GHZ
    (default 3.67, the all-core turbo clock of this machine: about 0.94 TOPS on 2 cores)."""
    return torch.get_num_threads() * 128 * float(os.environ.get("BNB_BENCH_GHZ", "3.67")) * 1e9


def main():
    args = parser(__doc__).parse_args()
    peak = vnni_peak_ops()
    shapes = [(1024, 1024, 1024)] if args.quick else [(4096, 4096, 4096), (512, 4096, 4096), (16, 4096, 4096)]
    rows = []
    for M, N, K in shapes:
        A = torch.randint(-128, 128, (M, K), dtype=torch.int8)
        B = torch.randint(-128, 128, (N, K), dtype=torch.int8)
        rs, cs = torch.rand(M), torch.rand(N)
        flops = 2.0 * M * N * K
        cases = {
            "int8_linear_matmul": lambda: ops.int8_linear_matmul(A, B),
            "int8_scaled_mm ->bf16": lambda: ops.int8_scaled_mm(A, B, rs, cs, None, torch.bfloat16),
        }
        for dtype in (torch.float32, torch.bfloat16):
            a, b = A.to(dtype), B.to(dtype)
            cases[f"torch {str(dtype)[6:]} matmul"] = lambda a=a, b=b: a @ b.t()
        for name, fn in cases.items():
            t = timeit(fn, min_time=1.0, max_iters=10)
            rows.append(
                {"case": f"{name} {M}x{N}x{K}", "seconds": t, "elems_per_s": flops / t, "roofline_elems_per_s": peak}
            )
    report("int8_matmul", rows, args)


if __name__ == "__main__":
    main()
