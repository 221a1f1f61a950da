"""Shared helpers of the benchmarks: timing, the machine's bandwidth roofline,
the CPU class being measured, and a JSON + table report. Works with this package
or the original installed in the running interpreter, so compare.py can run the
same file in both.

CPU classes. BNB_BENCH_CPU=avx2 measures an AVX2-only CPU (no AVX-512, AVX512-BF16
or AMX) on a bigger x86 machine: this package's kernels are capped with
BNB_CPU_SIMD=avx2, torch's with ATEN_CPU_CAPABILITY=avx2 and ONEDNN_MAX_CPU_ISA=AVX2
(read when torch loads, so the process re-executes itself with them set), and the
original is kept off its AVX512-BF16 kernel, as on such a CPU. BNB_BENCH_CPU=avx512
measures an AVX-512 CPU with AVX512-BF16 but no AMX (oneDNN capped at
AVX512_CORE_BF16). Unset: the machine as it is. BNB_BENCH_THREADS sets torch's
thread count (default: torch's), e.g. 1 on a machine shared with other jobs, where
two threads that must meet at every op's end measure mostly the scheduler."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch

CPU_CLASSES = {
    "avx2": {"BNB_CPU_SIMD": "avx2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx512": {"BNB_CPU_SIMD": "avx512", "ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"},
}


def _enter_cpu_class() -> None:
    name = os.environ.get("BNB_BENCH_CPU", "native")
    if name == "native":
        return
    if name not in CPU_CLASSES:
        raise SystemExit(f"BNB_BENCH_CPU must be one of native, {', '.join(CPU_CLASSES)}; got {name!r}")
    env = CPU_CLASSES[name]
    if any(os.environ.get(k) != v for k, v in env.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **env})
    if name == "avx2" and not ours():  # the original: no AVX512-BF16 on this class
        import bitsandbytes.functional
        import bitsandbytes.nn.modules

        bitsandbytes.functional.has_avx512bf16 = bitsandbytes.nn.modules.has_avx512bf16 = lambda: False


def cpu_class() -> str:
    """What this run measures: the CPU class, torch's kernel level, and this package's SIMD level."""
    import bitsandbytes

    name = os.environ.get("BNB_BENCH_CPU", "native")
    text = f"CPU class {name}" + (
        " (emulated: " + ", ".join(f"{k}={v}" for k, v in CPU_CLASSES[name].items()) + ")"
        if name in CPU_CLASSES
        else ""
    )
    text += f"; torch CPU capability {torch.backends.cpu.get_cpu_capability()}"
    if ours():
        text += f"; bitsandbytes SIMD level {bitsandbytes.cextension._C.simd_level()}"
    return text


def gemm_4bit_path(batch: int, features: int, dtype: torch.dtype = torch.bfloat16, module: bool = False) -> str:
    """The kernel path a 4-bit matmul of `batch` rows takes in this implementation."""
    import bitsandbytes

    if ours():
        return bitsandbytes.cextension._C.gemm_4bit_path(batch, features, 64, str(dtype).removeprefix("torch."))
    import bitsandbytes.functional as F

    if module and F.has_avx512bf16():
        return "repacked avx512_bf16 (Linear4bit)"
    return "dequantize + torch matmul"


RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def ours() -> bool:
    """Whether the bitsandbytes in this interpreter is this package (not the original)."""
    import bitsandbytes

    return hasattr(bitsandbytes, "cextension") and hasattr(bitsandbytes.cextension, "require_native")


def implementation() -> str:
    import bitsandbytes

    return f"{'this package' if ours() else 'original'} {bitsandbytes.__version__}"


_enter_cpu_class()
if os.environ.get("BNB_BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["BNB_BENCH_THREADS"]))


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
        "cpu_class": cpu_class(),
        "load": os.getloadavg()[0],
    }
    print(
        f"# {name} — {meta['implementation']}, torch {meta['torch']}, {meta['threads']} threads, "
        f"bandwidth read {meta['bandwidth_gbs']['read']:.1f} / write {meta['bandwidth_gbs']['write']:.1f} GB/s, "
        f"load {meta['load']:.1f}\n# {meta['cpu_class']}"
    )
    unit = rows[0].get("unit", "G elem/s") if rows else "G elem/s"
    scale = 1e9 if unit == "G elem/s" else 1.0
    print(f"{'case':44s} {'time':>10s} {unit:>9s} {'roofline':>9s} {'% roof':>7s}  path")
    for r in rows:
        roof = r.get("roofline_elems_per_s") or float("nan")
        print(
            f"{r['case']:44s} {r['seconds'] * 1e3:8.3f}ms {r['elems_per_s'] / scale:9.2f} "
            f"{roof / scale:9.2f} {100 * r['elems_per_s'] / roof:6.0f}%  {r.get('path', '')}"
        )
    path = args.json or os.path.join(RESULTS_DIR, f"{name}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)


# ---- end-to-end models (bench_decode_4bit.py, bench_prefill_4bit.py) ----
def build_llama(path: str, hidden: int, layers: int) -> None:
    """Saves a bf16 Llama with random weights (vocabulary 8192) at path."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=8192,
        hidden_size=hidden,
        intermediate_size=hidden * 11 // 4,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 128,
        num_key_value_heads=hidden // 128,
        max_position_embeddings=512,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(path)


def load_llama_pair(path: str) -> list:
    """(name, model) for the NF4 and the bf16 model saved at path."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    bf16 = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).eval()
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
    nf4 = AutoModelForCausalLM.from_pretrained(path, quantization_config=config, dtype=torch.bfloat16).eval()
    return [("nf4 (load_in_4bit)", nf4), ("bf16", bf16)]
