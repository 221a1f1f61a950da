"""4-bit dequantization throughput (elements/s): NF4/FP4 to bf16/fp16/fp32, into a
preallocated output (out=) and allocating one, on tensors larger than the L3 cache."""

import torch

import bitsandbytes.functional as F

from _common import parser, report, roofline_elems_per_s, timeit, timeit_or_none


def main():
    args = parser(__doc__).parse_args()
    n = (8 if args.quick else 64) * 1024 * 1024
    rows = []
    for qt in ("nf4", "fp4"):
        for dtype in (torch.bfloat16, torch.float16, torch.float32):
            if qt == "fp4" and dtype != torch.bfloat16:
                continue
            x = torch.randn(n // 4096, 4096, dtype=dtype)
            q, st = F.quantize_4bit(x, blocksize=64, quant_type=qt)
            out = torch.empty_like(x)
            roof = roofline_elems_per_s(0.5 + 4 / 64, x.element_size())
            t = timeit_or_none(lambda: F.dequantize_4bit(q, st, out=out))
            if t is not None:
                rows.append(
                    {
                        "case": f"{qt}->{str(dtype)[6:]} bs64 out=",
                        "seconds": t,
                        "elems_per_s": n / t,
                        "roofline_elems_per_s": roof,
                    }
                )
            if dtype == torch.bfloat16:
                t = timeit(lambda: F.dequantize_4bit(q, st))
                rows.append(
                    {
                        "case": f"{qt}->{str(dtype)[6:]} bs64 (allocating)",
                        "seconds": t,
                        "elems_per_s": n / t,
                        "roofline_elems_per_s": roof,
                    }
                )
            del x, q, out
    x = torch.randn(n // 4096, 4096, dtype=torch.bfloat16)
    q, st = F.quantize_4bit(x, blocksize=64, quant_type="nf4", compress_statistics=True)
    out = torch.empty_like(x)
    t = timeit(lambda: F.dequantize_4bit(q, st))
    rows.append(
        {
            "case": "nf4->bfloat16 bs64 double-quant (allocating)",
            "seconds": t,
            "elems_per_s": n / t,
            "roofline_elems_per_s": roofline_elems_per_s(0.5 + 1 / 64, 2),
        }
    )
    report("dequantize_4bit", rows, args)


if __name__ == "__main__":
    main()
