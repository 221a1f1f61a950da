"""Linear8bitLt inference forward (ops/s = 2*tokens*in*out per second) with and without
the outlier decomposition, against nn.Linear in fp32 and bf16 on the same shapes."""

import os
import warnings

import torch

import bitsandbytes as bnb

from _common import parser, report, timeit


def vnni_peak_ops() -> float:
    """As in bench_int8_matmul.py: 128 int8 ops/cycle/core at BNB_BENCH_GHZ (default 3.67)."""
    return torch.get_num_threads() * 128 * float(os.environ.get("BNB_BENCH_GHZ", "3.67")) * 1e9


def main():
    args = parser(__doc__).parse_args()
    warnings.simplefilter("ignore")
    peak = vnni_peak_ops()
    dim = 1024 if args.quick else 4096
    rows = []
    torch.manual_seed(0)
    W = torch.randn(dim, dim) / dim**0.5
    for tokens in (1, 16, 512):
        x = torch.randn(tokens, dim)
        x[:, [7, 300]] *= 20  # two outlier features
        flops = 2.0 * tokens * dim * dim
        cases = {}
        for thr in (0.0, 6.0):
            lin = bnb.nn.Linear8bitLt(dim, dim, bias=True, has_fp16_weights=False, threshold=thr)
            lin.weight = bnb.nn.Int8Params(W.clone(), requires_grad=False, has_fp16_weights=False)
            lin = lin.to("cpu").eval()
            xb = x.to(torch.bfloat16)
            cases[f"Linear8bitLt thr={thr:g} bf16"] = lambda lin=lin, xb=xb: lin(xb)
        for dtype in (torch.float32, torch.bfloat16):
            ref = torch.nn.Linear(dim, dim).to(dtype).eval()
            xd = x.to(dtype)
            cases[f"nn.Linear {str(dtype)[6:]}"] = lambda ref=ref, xd=xd: ref(xd)
        with torch.no_grad():
            for name, fn in cases.items():
                t = timeit(fn, min_time=0.5, max_iters=20)
                rows.append(
                    {
                        "case": f"{name} {tokens}x{dim}->{dim}",
                        "seconds": t,
                        "elems_per_s": flops / t,
                        "roofline_elems_per_s": peak,
                    }
                )
    report("linear8bitlt", rows, args)


if __name__ == "__main__":
    main()
