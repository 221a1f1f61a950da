"""`python -m bitsandbytes`: the report, and what it says when the native library cannot load."""

import os
import shutil
import subprocess
import sys

import bitsandbytes


def _run(env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "bitsandbytes"], capture_output=True, text=True, env=env, cwd=cwd)


def test_report_lists_versions_backends_and_simd():
    import torch

    r = _run()
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "bitsandbytes 0.50.2" in out and f"torch        {torch.__version__}" in out
    assert "Native library: loaded" in out and "backends compiled in: cpu" in out
    assert "CPU SIMD path in use:" in out and "quantize_4bit" in out


def test_simd_level_can_be_capped_from_the_environment():
    r = _run(env={**os.environ, "BNB_CPU_SIMD": "scalar"})
    assert "CPU SIMD path in use: scalar" in r.stdout


def test_report_shows_the_real_loader_error(tmp_path):
    # a copy of the package whose op library is unreadable garbage
    pkg = os.path.dirname(bitsandbytes.__file__)
    dst = tmp_path / "bitsandbytes"
    shutil.copytree(pkg, dst)
    for name in os.listdir(dst):
        if name.startswith("libbnb_ops"):
            (dst / name).write_bytes(b"not an ELF file")
    r = _run(env={**os.environ, "PYTHONPATH": str(tmp_path)}, cwd=str(tmp_path))
    assert r.returncode == 1
    assert "Native library: FAILED TO LOAD" in r.stdout
    assert "libbnb_ops" in r.stdout  # the loader's own message names the file
    assert "--no-build-isolation" in r.stdout


def test_import_survives_a_broken_native_library(tmp_path):
    pkg = os.path.dirname(bitsandbytes.__file__)
    dst = tmp_path / "bitsandbytes"
    shutil.copytree(pkg, dst)
    for name in os.listdir(dst):
        if name.startswith("libbnb_ops"):
            (dst / name).write_bytes(b"garbage")
    code = (
        "import bitsandbytes, torch\n"
        "import bitsandbytes.functional as F\n"
        "try:\n    F.quantize_4bit(torch.randn(64))\nexcept RuntimeError as e:\n    print('ERR', e)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert r.returncode == 0, r.stderr
    assert "ERR bitsandbytes: this operation needs the native library, which failed to load" in r.stdout


def test_report_says_when_a_gpu_backend_has_no_device(monkeypatch, capsys):
    # a CUDA build on a machine without a GPU (what CI's CUDA-torch build is): the report
    # names the backend and says torch sees no device, instead of listing only the backends
    import torch

    from bitsandbytes import __main__ as main
    from bitsandbytes import cextension

    info = {**cextension._C.build_info(), "cuda": True, "gpu_archs": "80,90", "gpu_toolkit": "CUDA 13.0"}
    monkeypatch.setattr(cextension._C, "build_info", lambda: info)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main.report() == 0
    out = capsys.readouterr().out
    assert "backends compiled in: cpu, cuda" in out
    assert "GPU visible:          none: CUDA is compiled in, but torch sees no CUDA device" in out
