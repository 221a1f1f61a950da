"""4-bit weight matmul throughput (weights/s): bitsandbytes::gemm_4bit for batch 1
(GEMV, NF4/FP4, bf16/fp32 A, nested absmax) and batches 2..32, next to plain torch
bf16 matmul with the dense weight and dequantize_4bit + matmul. Several weights are
rotated so that the working set is far larger than the last-level cache; the
roofline is the time to read the packed weight and its absmax once."""

import torch

import bitsandbytes.functional as F

from _common import parser, report, roofline_elems_per_s, timeit

ops = torch.ops.bitsandbytes


def _weights(n, k, count, quant_type="nf4", compress=False, blocksize=64):
    out = []
    for _ in range(count):
        w = torch.randn(n, k, dtype=torch.bfloat16)
        q, st = F.quantize_4bit(w, blocksize=blocksize, quant_type=quant_type, compress_statistics=compress)
        out.append((q, st))
    return out


def _gemm(A, q, st):
    n, k = st.shape
    if st.nested:
        return ops.gemm_4bit(
            A,
            q,
            [n, k],
            st.state2.absmax,
            st.blocksize,
            st.quant_type,
            absmax_8bit=st.absmax,
            absmax_code=st.state2.code,
            absmax_offset=st.offset,
        )
    return ops.gemm_4bit(A, q, [n, k], st.absmax, st.blocksize, st.quant_type)


def _rotating(fn, items):
    i = [0]

    def call():
        fn(*items[i[0] % len(items)])
        i[0] += 1

    return call


def main():
    args = parser(__doc__).parse_args()
    rows = []
    big = 4096 if args.quick else 8192
    count = 2 if args.quick else 8  # 8 x 8192^2 NF4 weights: ~270 MB packed
    per_weight = 0.5 + 4 / 64  # packed nibble + fp32 absmax per 64 weights

    def add(case, seconds, weights, roof_bytes):
        rows.append(
            {
                "case": case,
                "seconds": seconds,
                "elems_per_s": weights / seconds,
                "roofline_elems_per_s": roofline_elems_per_s(roof_bytes, 0.0),
            }
        )

    ws = _weights(big, big, count)
    for dtype in (torch.bfloat16, torch.float32):
        A = torch.randn(1, big, dtype=dtype)
        t = timeit(_rotating(lambda q, st, A=A: _gemm(A, q, st), ws), min_time=1.0)
        add(f"gemm_4bit nf4 {str(dtype)[6:]} M=1 {big}x{big}", t, big * big, per_weight)
    A = torch.randn(1, big, dtype=torch.bfloat16)
    t = timeit(_rotating(lambda q, st: F.gemv_4bit(A, q.t(), state=st), ws), min_time=1.0)
    add(f"gemv_4bit nf4 bfloat16 M=1 {big}x{big}", t, big * big, per_weight)
    del ws

    ws = _weights(big, big, count, quant_type="fp4")
    t = timeit(_rotating(lambda q, st: _gemm(A, q, st), ws), min_time=1.0)
    add(f"gemm_4bit fp4 bfloat16 M=1 {big}x{big}", t, big * big, per_weight)
    del ws
    ws = _weights(big, big, count, compress=True)
    t = timeit(_rotating(lambda q, st: _gemm(A, q, st), ws), min_time=1.0)
    add(f"gemm_4bit nf4 nested bfloat16 M=1 {big}x{big}", t, big * big, 0.5 + 1 / 64 + 4 / 64 / 256)
    del ws

    n = 4096
    ws = _weights(n, n, 2 if args.quick else 8)
    dense = [F.dequantize_4bit(q, st) for q, st in ws[:2]]
    for m in (2, 4, 8, 16, 32):
        A = torch.randn(m, n, dtype=torch.bfloat16)
        t = timeit(_rotating(lambda q, st, A=A: _gemm(A, q, st), ws), min_time=0.5)
        add(f"gemm_4bit nf4 bfloat16 M={m} {n}x{n}", t, n * n, per_weight)
        t = timeit(_rotating(lambda q, st, A=A: A @ F.dequantize_4bit(q, st).t(), ws), min_time=0.5)
        add(f"dequantize_4bit + matmul bf16 M={m} {n}x{n}", t, n * n, per_weight)
        t = timeit(_rotating(lambda w, A=A: A @ w.t(), [(w,) for w in dense]), min_time=0.5)
        add(f"torch bf16 matmul (dense weight) M={m} {n}x{n}", t, n * n, 2.0)
    A = torch.randn(1, n, dtype=torch.bfloat16)
    t = timeit(_rotating(lambda w: A @ w.t(), [(w,) for w in dense]), min_time=0.5)
    add(f"torch bf16 matmul (dense weight) M=1 {n}x{n}", t, n * n, 2.0)
    report("gemv_4bit", rows, args)


if __name__ == "__main__":
    main()
