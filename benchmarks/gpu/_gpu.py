"""Shared helpers of the GPU benchmarks: device time per call (CUDA graphs of
calls over rotated inputs, so the figure is the kernels' time and not Python's,
and the inputs are not served from L2), the device's copy bandwidth and dense
bf16 throughput measured in the same run (the rooflines), and markdown tables."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

L2_BYTES = 64 << 20  # rotate inputs over more than this (H100: 50 MB, H200: 60 MB of L2)


def implementation() -> str:
    import bitsandbytes

    ours = hasattr(bitsandbytes, "cextension") and hasattr(bitsandbytes.cextension, "require_native")
    return f"{'this package' if ours else 'original'} {bitsandbytes.__version__}"


def copies_for(nbytes: int, at_least: int = 2) -> int:
    """How many copies of an input of `nbytes` to rotate so the set exceeds twice the L2."""
    return max(at_least, -(-2 * L2_BYTES // max(nbytes, 1)))


def device_time(fn: Callable[[int], object], rotate: int, reps: int = 20, iters: int = 5) -> float:
    """Seconds per call of fn(i) (i: which rotated input), median of `iters` replays of a CUDA graph of
    `reps` calls; without graph support (the call synchronises or cannot be captured), eager calls timed
    with events (then host overhead may count)."""
    for i in range(3):  # warm-up: lazy initialisation, allocator, autotuning
        fn(i % rotate)
    torch.cuda.synchronize()
    stream = torch.cuda.Stream()
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.stream(stream):
            for i in range(2):
                fn(i % rotate)
        torch.cuda.synchronize()
        with torch.cuda.graph(graph, stream=stream):
            for i in range(reps):
                fn(i % rotate)
        run = graph.replay
    except Exception as err:  # noqa: BLE001 - any failure to capture: time eagerly
        print(f"  (eager timing, includes host overhead: {str(err).splitlines()[0][:100]})")
        torch.cuda.synchronize()

        def run():
            for i in range(reps):
                fn(i % rotate)

    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / reps)
    return sorted(times)[len(times) // 2]


_ROOF: dict[str, float] = {}


def rooflines() -> dict[str, float]:
    """bandwidth_gbs: a 1 GiB device-to-device copy (bytes read + written per second);
    bf16_tflops: torch's 8192^3 bf16 matmul."""
    if not _ROOF:
        n = 256 << 20
        src = torch.empty(n, device="cuda")
        dst = torch.empty_like(src)
        t = device_time(lambda i: dst.copy_(src), 1, reps=5)
        _ROOF["bandwidth_gbs"] = 2 * 4 * n / t / 1e9
        del src, dst
        a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        t = device_time(lambda i: a @ b, 1, reps=5)
        _ROOF["bf16_tflops"] = 2 * 8192**3 / t / 1e12
    return dict(_ROOF)


def roofline_s(nbytes: float, flops: float = 0.0) -> float:
    """The time an op needs at best: moving its bytes at the copy bandwidth, or its flops at the dense
    bf16 rate, whichever is longer."""
    r = rooflines()
    return max(nbytes / (r["bandwidth_gbs"] * 1e9), flops / (r["bf16_tflops"] * 1e12))


def safe(fn: Callable[[], float]) -> float | None:
    """fn() or None when the case cannot run here (an op the implementation lacks, a failed launch)."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - report and continue with the other cases
        print(f"  (skipped: {str(err).splitlines()[0][:160]})")
        return None


class FusedMode:
    """Sets BNB_CUDA_GEMM_4BIT_FUSED for a block (docs/backends.md)."""

    def __init__(self, value: str | None):
        self.value, self.old = value, None

    def __enter__(self):
        self.old = os.environ.get("BNB_CUDA_GEMM_4BIT_FUSED")
        if self.value is None:
            os.environ.pop("BNB_CUDA_GEMM_4BIT_FUSED", None)
        else:
            os.environ["BNB_CUDA_GEMM_4BIT_FUSED"] = self.value

    def __exit__(self, *exc):
        if self.old is None:
            os.environ.pop("BNB_CUDA_GEMM_4BIT_FUSED", None)
        else:
            os.environ["BNB_CUDA_GEMM_4BIT_FUSED"] = self.old


def us(t: float | None) -> str:
    return "-" if t is None else f"{t * 1e6:.1f}"


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def preamble() -> str:
    r = rooflines()
    p = torch.cuda.get_device_properties(0)
    return (
        f"{p.name} ({p.multi_processor_count} SMs), torch {torch.__version__}, {implementation()}; "
        f"copy bandwidth {r['bandwidth_gbs']:.0f} GB/s, dense bf16 matmul {r['bf16_tflops']:.0f} TFLOP/s "
        "(both measured in this run: the rooflines below). Times are device time per call (CUDA graphs), "
        "inputs rotated over more than twice the L2.\n"
    )
