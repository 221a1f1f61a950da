"""8-bit blockwise (de)quantization throughput (elements/s) with the dynamic map, larger than L3."""

import torch

import bitsandbytes.functional as F

from _common import parser, report, roofline_elems_per_s, timeit, timeit_or_none


def main():
    args = parser(__doc__).parse_args()
    n = (8 if args.quick else 64) * 1024 * 1024
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn(n, dtype=dtype)
        for bs in (256, 4096):
            t = timeit(lambda: F.quantize_blockwise(x, blocksize=bs))
            rows.append(
                {
                    "case": f"quantize {str(dtype)[6:]} bs{bs}",
                    "seconds": t,
                    "elems_per_s": n / t,
                    "roofline_elems_per_s": roofline_elems_per_s(x.element_size(), 1 + 4 / bs),
                }
            )
        q, st = F.quantize_blockwise(x, blocksize=4096)
        out = torch.empty_like(x)
        for case, fn in (
            ("out=", lambda: F.dequantize_blockwise(q, st, out=out)),
            ("(allocating)", lambda: F.dequantize_blockwise(q, st)),
        ):
            t = timeit_or_none(fn)
            if t is not None:
                rows.append(
                    {
                        "case": f"dequantize ->{str(dtype)[6:]} bs4096 {case}",
                        "seconds": t,
                        "elems_per_s": n / t,
                        "roofline_elems_per_s": roofline_elems_per_s(1, x.element_size()),
                    }
                )
    report("blockwise", rows, args)


if __name__ == "__main__":
    main()
