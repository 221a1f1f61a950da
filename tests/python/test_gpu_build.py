"""A GPU build (CUDA or ROCm) loads and is complete, with or without a GPU: every op
has a kernel for torch's CUDA dispatch key (ROCm torch uses the same key), the op
library finds the GPU runtime pip installed beside torch, and without a device the
user gets torch's own error and a report that says so (docs/installation.md).

CI runs this file in a virtual environment with a CUDA build of torch
(tools/run_tests.sh, "CUDA build against a CUDA torch"); with a CPU build it skips."""

import os
import subprocess
import sys

import pytest
import torch

import bitsandbytes
import bitsandbytes.functional as F
from bitsandbytes import cextension

GPU_BUILD = cextension.BUILD_INFO["cuda"] or cextension.BUILD_INFO["hip"]
pytestmark = pytest.mark.skipif(not GPU_BUILD, reason="needs a CUDA or ROCm build of bitsandbytes")
no_device = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without a GPU")


def _ops():
    return sorted(n for n in torch._C._dispatch_get_all_op_names() if n.startswith("bitsandbytes::"))


def test_every_op_has_a_cuda_kernel():
    ops = _ops()
    assert len(ops) >= 19  # every schema of csrc/registration.cpp, overloads included
    missing = [n for n in ops if not torch._C._dispatch_has_kernel_for_dispatch_key(n, "CUDA")]
    assert missing == []


def test_every_op_has_a_cpu_kernel_too():
    missing = [n for n in _ops() if not torch._C._dispatch_has_kernel_for_dispatch_key(n, "CPU")]
    assert missing == []


@pytest.mark.skipif(not cextension.BUILD_INFO["cuda"], reason="a CUDA build")
def test_op_library_loads_the_cuda_runtime_installed_beside_torch(tmp_path):
    # Loaded without Python's torch import (as a LibTorch program would load it), the op
    # library must find libcudart through its own run-time path: the copy pip installed
    # with torch (site-packages/nvidia/*/lib) when there is one.
    pkg = os.path.dirname(bitsandbytes.__file__)
    site = os.path.dirname(os.path.dirname(torch.__file__))
    if os.path.dirname(pkg) != site:
        # e.g. tools/gpu_check.sh installs with pip --target into a folder of its own: the run-time
        # path ($ORIGIN/../torch/lib) reaches torch only from torch's own site-packages
        pytest.skip("bitsandbytes is not installed beside torch")
    lib = next(os.path.join(pkg, n) for n in os.listdir(pkg) if n.startswith("libbnb_ops"))
    code = (
        "import ctypes, sys\n"
        f"ctypes.CDLL({lib!r})\n"
        "print([l.split()[-1] for l in open('/proc/self/maps') if 'libcudart' in l][0])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    pip_runtime = os.path.join(site, "nvidia")
    if os.path.isdir(pip_runtime):
        assert os.path.realpath(r.stdout.strip()).startswith(os.path.realpath(pip_runtime)), r.stdout
    else:
        assert "libcudart.so" in r.stdout


@no_device
def test_an_op_on_a_cuda_tensor_without_a_gpu_raises_torchs_error():
    # The tensor cannot even be made: torch says why (no driver / no device), before any
    # bitsandbytes code could misbehave.
    with pytest.raises(RuntimeError, match="(?i)nvidia driver|no cuda gpus|no hip gpus|cuda driver|no .*devices"):
        F.quantize_4bit(torch.randn(64, device="cuda"))
    with pytest.raises(RuntimeError, match="(?i)nvidia driver|no cuda gpus|no hip gpus|cuda driver|no .*devices"):
        bitsandbytes.nn.Linear4bit(64, 64).to("cuda")


@no_device
def test_the_report_says_the_gpu_backend_has_no_device():
    r = subprocess.run([sys.executable, "-m", "bitsandbytes"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    kind = "ROCm" if cextension.BUILD_INFO["hip"] else "CUDA"
    assert f"backends compiled in: cpu, {kind.lower() if kind == 'CUDA' else 'hip'}" in r.stdout
    assert f"none: {kind} is compiled in, but torch sees no {kind} device" in r.stdout


def test_the_cpu_backend_still_works_in_a_gpu_build():
    x = torch.randn(1024)
    q, state = F.quantize_4bit(x, blocksize=64, quant_type="nf4")
    y = F.dequantize_4bit(q, state)
    # NF4 (docs/formats.md): an element is off by at most half the widest gap between
    # neighbouring codes, (1 - 0.6962) / 2 < 0.152 between -1 and -0.6962, times its block's absmax (fp32 math)
    absmax = x.abs().reshape(-1, 64).amax(dim=1, keepdim=True)
    assert ((y - x).abs().reshape(-1, 64) <= 0.152 * absmax).all()
