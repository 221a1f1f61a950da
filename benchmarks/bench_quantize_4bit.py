"""4-bit quantization throughput (elements/s): bf16/fp32 to NF4/FP4, bs 64, larger than L3."""

import torch

import bitsandbytes.functional as F

from _common import parser, report, roofline_elems_per_s, timeit


def main():
    args = parser(__doc__).parse_args()
    n = (8 if args.quick else 64) * 1024 * 1024
    rows = []
    for qt in ("nf4", "fp4"):
        for dtype in (torch.bfloat16, torch.float32):
            x = torch.randn(n // 4096, 4096, dtype=dtype)
            t = timeit(lambda: F.quantize_4bit(x, blocksize=64, quant_type=qt))
            rows.append(
                {
                    "case": f"{str(dtype)[6:]}->{qt} bs64",
                    "seconds": t,
                    "elems_per_s": n / t,
                    "roofline_elems_per_s": roofline_elems_per_s(x.element_size(), 0.5 + 4 / 64),
                }
            )
    x = torch.randn(n // 4096, 4096, dtype=torch.bfloat16)
    t = timeit(lambda: F.quantize_4bit(x, blocksize=64, quant_type="nf4", compress_statistics=True))
    rows.append(
        {
            "case": "bfloat16->nf4 bs64 double-quant",
            "seconds": t,
            "elems_per_s": n / t,
            "roofline_elems_per_s": roofline_elems_per_s(2, 0.5 + 1 / 64),
        }
    )
    report("quantize_4bit", rows, args)


if __name__ == "__main__":
    main()
