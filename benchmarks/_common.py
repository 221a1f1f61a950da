"""Shared helpers of the benchmarks: timing, the machine's bandwidth roofline,
and a JSON + table report. Works with this package or the original installed
in the running interpreter, so compare.py can run the same file in both."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def implementation() -> str:
    import bitsandbytes

    origin = (
        "this package"
        if hasattr(bitsandbytes, "cextension") and hasattr(bitsandbytes.cextension, "require_native")
        else "original"
    )
    return f"{origin} {bitsandbytes.__version__}"


def timeit(fn: Callable[[], object], min_time: float = 0.5, warmup: int = 2, max_iters: int = 50) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < max_iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timeit_or_none(fn: Callable[[], object], **kw) -> float | None:
    """:func:`timeit`, or None (with a note) when this implementation cannot run ``fn``:
    the original lacks some variants (e.g. ``out=`` on the CPU)."""
    try:
        return timeit(fn, **kw)
    except (NotImplementedError, RuntimeError, TypeError) as err:
        print(f"  (skipped: {str(err).splitlines()[0][:120]})")
        return None


_BW_CACHE: dict[str, float] = {}


def bandwidth() -> dict[str, float]:
    """Measured read and write bandwidth (GB/s) of this machine with torch's own
    kernels on 512 MB buffers (16x the L3 cache), all threads; best of several."""
    if not _BW_CACHE:
        n = 128 * 1024 * 1024
        a = torch.ones(n)
        t_read = min(timeit(lambda: a.sum(), min_time=0.2) for _ in range(3))
        t_write = min(timeit(lambda: a.fill_(1.0), min_time=0.2) for _ in range(3))
        _BW_CACHE["read"] = n * 4 / t_read / 1e9
        _BW_CACHE["write"] = n * 4 / t_write / 1e9
    return dict(_BW_CACHE)


def roofline_elems_per_s(read_bytes_per_elem: float, write_bytes_per_elem: float) -> float:
    """Elements/s if the op only moved its bytes at the measured bandwidths."""
    bw = bandwidth()
    return 1.0 / (read_bytes_per_elem / (bw["read"] * 1e9) + write_bytes_per_elem / (bw["write"] * 1e9))


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", help="write the results here (default: benchmarks/results/<name>.json)")
    p.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    return p


def report(name: str, rows: list[dict], args: argparse.Namespace) -> None:
    """Print a table and save JSON. Each row: case, seconds, elems_per_s, roofline_elems_per_s (+ extras)."""
    meta = {
        "benchmark": name,
        "implementation": implementation(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "bandwidth_gbs": bandwidth(),
    }
    print(
        f"# {name} — {meta['implementation']}, torch {meta['torch']}, {meta['threads']} threads, "
        f"bandwidth read {meta['bandwidth_gbs']['read']:.1f} / write {meta['bandwidth_gbs']['write']:.1f} GB/s"
    )
    unit = rows[0].get("unit", "G elem/s") if rows else "G elem/s"
    scale = 1e9 if unit == "G elem/s" else 1.0
    print(f"{'case':44s} {'time':>10s} {unit:>9s} {'roofline':>9s} {'% roof':>7s}")
    for r in rows:
        roof = r.get("roofline_elems_per_s") or float("nan")
        print(
            f"{r['case']:44s} {r['seconds'] * 1e3:8.3f}ms {r['elems_per_s'] / scale:9.2f} "
            f"{roof / scale:9.2f} {100 * r['elems_per_s'] / roof:6.0f}%"
        )
    path = args.json or os.path.join(RESULTS_DIR, f"{name}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
