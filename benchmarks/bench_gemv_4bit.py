"""4-bit weight matmul at batch 1-4 (weights/s): bitsandbytes.matmul_4bit with bf16
(--dtype float16: fp16) activations and NF4 blocksize 64, next to torch's matmul in
that dtype with the dense weight,
for the shapes of a 7-8B Llama's projections. Copies of each weight are rotated so
the working set (over 512 MB) is far larger than the last-level cache; the roofline
is the time to read the packed weight and its absmax once at the measured read
bandwidth (2 bytes per weight for the dense rows). Each row names the kernel path
that ran; BNB_BENCH_CPU picks the CPU class (see _common.py). Batch 1-4 through the
original's matmul_4bit is its dequantize + matmul; its fast CPU kernel runs through
Linear4bit (bench_linear4bit.py)."""

import copy

import torch

import bitsandbytes as bnb
import bitsandbytes.functional as F

from _common import gemm_4bit_path, parser, report, roofline_elems_per_s, timeit

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008), (14336, 4096)]  # (out, in) features
PACKED_BYTES_PER_WEIGHT = 0.5 + 4 / 64  # nibble + fp32 absmax per 64 weights


def rotating(fn, items):
    """A call that runs fn on the next item each time (round robin)."""
    i = [0]

    def call():
        fn(*items[i[0] % len(items)])
        i[0] += 1

    return call


def copies_of(nbytes, working_set):
    return max(2, -(-working_set // nbytes))


def main():
    p = parser(__doc__)
    p.add_argument("--dtype", choices=["bfloat16", "float16"], default="bfloat16", help="activation dtype")
    args = p.parse_args()
    dtype = getattr(torch, args.dtype)
    short = {"bfloat16": "bf16", "float16": "fp16"}[args.dtype]
    working_set = (64 if args.quick else 512) << 20
    shapes = SHAPES[:1] if args.quick else SHAPES
    rows = []
    torch.manual_seed(0)
    for n, k in shapes:
        w = torch.randn(n, k, dtype=dtype)
        q, st = F.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=False)
        quant = []
        for _ in range(copies_of(q.numel() + st.absmax.numel() * 4, working_set)):
            s = copy.copy(st)
            s.absmax = st.absmax.clone()
            quant.append((q.clone(), s))
        dense = [(w.clone(),) for _ in range(copies_of(w.numel() * 2, working_set))]
        for m in range(1, 5):
            x = torch.randn(m, k, dtype=dtype)
            with torch.inference_mode():
                t = timeit(rotating(lambda q, s, x=x: bnb.matmul_4bit(x, q.t(), s), quant))
                rows.append(
                    {
                        "case": f"matmul_4bit nf4 {short} {n}x{k} batch {m}",
                        "seconds": t,
                        "elems_per_s": n * k / t,
                        "roofline_elems_per_s": roofline_elems_per_s(PACKED_BYTES_PER_WEIGHT, 0),
                        "path": gemm_4bit_path(m, k, dtype),
                    }
                )
                t = timeit(rotating(lambda d, x=x: x @ d.t(), dense))
                rows.append(
                    {
                        "case": f"torch {short} matmul {n}x{k} batch {m}",
                        "seconds": t,
                        "elems_per_s": n * k / t,
                        "roofline_elems_per_s": roofline_elems_per_s(2, 0),
                        "path": "torch",
                    }
                )
        del quant, dense
    report("gemv_4bit", rows, args)


if __name__ == "__main__":
    main()
