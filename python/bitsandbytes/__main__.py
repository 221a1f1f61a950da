"""``python -m bitsandbytes``: what is installed and what the native library contains."""

from __future__ import annotations

import platform
import sys


def report() -> int:
    import torch

    import bitsandbytes
    from bitsandbytes import cextension

    print(f"bitsandbytes {bitsandbytes.__version__}")
    print(f"torch        {torch.__version__} (CUDA {torch.version.cuda}, HIP {getattr(torch.version, 'hip', None)})")
    print(f"Python       {platform.python_version()} ({sys.executable})")
    print(f"Platform     {platform.platform()} / {platform.machine()}")
    print()
    if not cextension.native_available():
        print("Native library: FAILED TO LOAD")
        print(f"  error: {cextension.NATIVE_LOAD_ERROR!r}")
        print("  What to do: the library is built against one torch; after changing torch rebuild it with")
        print("    pip install --no-build-isolation --force-reinstall --no-deps .")
        print("  from the source tree (see docs/installation.md). A 'undefined symbol' error means a torch mismatch;")
        print("  'cannot open shared object file' means a missing runtime (CUDA/ROCm) library.")
        return 1
    c = cextension._C
    info = c.build_info()
    feats = c.cpu_features()
    print("Native library: loaded")
    print(f"  built against torch {info['torch_version']} with {info['compiler']}")
    backends = ["cpu"] + (["cuda"] if info["cuda"] else []) + (["hip"] if info["hip"] else [])
    print(f"  backends compiled in: {', '.join(backends)}")
    if info["cuda"] or info["hip"]:
        print(f"  GPU architectures:    {info['gpu_archs']} ({info['gpu_toolkit']})")
    print(f"  CPU SIMD path in use: {c.simd_level()} (best on this machine: {c.detected_simd_level()})")
    print(f"  CPU features:         {', '.join(k for k, v in feats.items() if v) or 'none'}")
    print(f"  supported devices:    {sorted(bitsandbytes.supported_torch_devices)}")
    if torch.cuda.is_available():
        print(f"  GPU visible:          {torch.cuda.get_device_name(0)}")
    elif info["cuda"] or info["hip"]:
        kind = "ROCm" if info["hip"] else "CUDA"
        print(f"  GPU visible:          none: {kind} is compiled in, but torch sees no {kind} device")
        print("                        (torch.cuda.is_available() is False; the ops run on the CPU only)")
    ops = sorted(
        {
            n.split("::")[1].split(".")[0]
            for n in torch._C._dispatch_get_all_op_names()
            if n.startswith("bitsandbytes::")
        }
    )
    print(f"  ops registered:       {len(ops)} ({', '.join(ops)})")
    return 0


if __name__ == "__main__":
    sys.exit(report())
