"""Runs every GPU benchmark and writes one markdown report (tools/gpu_check.sh calls
this; docs/benchmarks.md shows a copy):

    python benchmarks/gpu/run.py --out gpu_benchmarks.md [--quick] [--only gemm_4bit,int8,quant]

Each section is independent: a failing one is reported in the file and the others still run."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from _gpu import preamble  # noqa: E402

SECTIONS = ("gemm_4bit", "int8", "quant")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="markdown file to write")
    p.add_argument("--quick", action="store_true", help="fewer shapes (a smoke run)")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA/ROCm device: nothing to benchmark")
        return 1
    import bitsandbytes  # noqa: F401  (registers the ops)

    parts = ["## GPU benchmarks", "", preamble()]
    failed = False
    for name in args.only.split(","):
        start = time.time()
        print(f"== {name}", flush=True)
        try:
            module = __import__(f"bench_{name}")
            parts.append(module.main(["--quick"] if args.quick else []))
        except Exception:  # noqa: BLE001 - report the section's failure, run the others
            failed = True
            parts.append(f"### {name}: failed\n\n```\n{traceback.format_exc()[-3000:]}```\n")
        print(f"   {time.time() - start:.0f} s", flush=True)
        torch.cuda.empty_cache()
        with open(args.out, "w") as f:  # written after every section: a timeout keeps what was measured
            f.write("\n".join(parts))
    print("\n".join(parts))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
