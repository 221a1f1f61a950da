"""CMake's choice of GPU backend (docs/installation.md), configure only: a stand-in
torch package says which build torch is (CPU, CUDA x.y, ROCm x.y), stand-in nvcc /
hipcc scripts say which toolkit is installed. A build that cannot have the GPU
backend says why in one message and builds the CPU backend, unless the backend
was asked for (BNB_CUDA=ON / BNB_HIP=ON), which makes it an error."""

import os
import shutil
import stat
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake")


def _script(path, text):
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _fake_torch(tmp_path, cuda=None, hip=None):
    pkg = tmp_path / "site" / "torch"
    (pkg / "lib").mkdir(parents=True)
    (pkg / "include" / "torch" / "csrc" / "api" / "include").mkdir(parents=True)
    for lib in ["torch", "torch_cpu", "c10", "torch_cuda", "c10_cuda", "torch_hip", "c10_hip"]:
        (pkg / "lib" / f"lib{lib}.so").write_bytes(b"")
    (pkg / "__init__.py").write_text(
        "import types\n"
        "__version__ = '2.99.0'\n"
        f"version = types.SimpleNamespace(cuda={cuda!r}, hip={hip!r})\n"
        "_C = types.SimpleNamespace(_GLIBCXX_USE_CXX11_ABI=True)\n"
    )
    return str(tmp_path / "site")


def _fake_nvcc(tmp_path, release, archs=(75, 80, 86, 89, 90, 100, 120)):
    root = tmp_path / f"cuda-{release}"
    (root / "bin").mkdir(parents=True)
    (root / "nvvm").mkdir()
    listing = " ".join(f"compute_{a}" for a in archs)
    _script(
        root / "bin" / "nvcc",
        f'if [ "$1" = --list-gpu-arch ]; then echo {listing}; exit 0; fi\n'
        f"echo 'Cuda compilation tools, release {release}, V{release}.1'\n",
    )
    return root


def _configure(tmp_path, site, path_dirs=(), env_extra=None, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_HOME", "CUDA_PATH", "CUDAToolkit_ROOT", "ROCM_PATH")}
    # a PATH without the real nvcc / hipcc: only the stand-ins given, and the system's basics
    env["PATH"] = os.pathsep.join([*map(str, path_dirs), os.path.dirname(shutil.which("cmake")), "/usr/bin", "/bin"])
    env["PYTHONPATH"] = site
    env.update(env_extra or {})
    build = tmp_path / "build"
    r = subprocess.run(
        ["cmake", "-S", ROOT, "-B", str(build), f"-DPython_EXECUTABLE={sys.executable}", "-DBNB_TESTS=OFF", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    # CMake wraps messages at 80 columns and indents them: compare with single spaces
    return r, " ".join((r.stdout + r.stderr).split())


# the places CMake would find this machine's nvcc in besides PATH
HIDE_NVCC = "-DCMAKE_IGNORE_PATH=/usr/local/bin;/usr/local/cuda/bin"


@pytest.mark.skipif(os.path.exists("/usr/bin/nvcc"), reason="an nvcc in /usr/bin cannot be hidden")
def test_cuda_torch_without_nvcc_builds_the_cpu_backend(tmp_path):
    r, out = _configure(tmp_path, _fake_torch(tmp_path, cuda="13.0"), (), None, HIDE_NVCC)
    assert r.returncode == 0, out
    assert "no CUDA compiler: nvcc is not on PATH nor in /usr/local/cuda" in out
    assert "wants CUDA 13.0" in out and "Building the CPU backend only" in out
    assert out.count("bitsandbytes: no CUDA compiler") == 1  # one message, not one per target


@pytest.mark.skipif(os.path.exists("/usr/bin/nvcc"), reason="an nvcc in /usr/bin cannot be hidden")
def test_cuda_torch_without_nvcc_is_an_error_when_cuda_is_asked_for(tmp_path):
    r, out = _configure(tmp_path, _fake_torch(tmp_path, cuda="13.0"), (), None, "-DBNB_CUDA=ON", HIDE_NVCC)
    assert r.returncode != 0
    assert "BNB_CUDA=ON, but no CUDA compiler: nvcc is not on PATH" in out


def test_toolkit_that_does_not_match_torchs_cuda_falls_back_to_cpu(tmp_path):
    root = _fake_nvcc(tmp_path, "12.4")
    r, out = _configure(tmp_path, _fake_torch(tmp_path, cuda="13.0"), [root / "bin"])
    assert r.returncode == 0, out
    assert f"the CUDA toolkit at {root} (from PATH) is CUDA 12.4 but torch 2.99.0 is built with CUDA 13.0" in out
    assert "Building the CPU backend only" in out


def test_mismatched_toolkit_from_cuda_home_is_an_error_when_cuda_is_asked_for(tmp_path):
    root = _fake_nvcc(tmp_path, "12.4")
    site = _fake_torch(tmp_path, cuda="13.0")
    r, out = _configure(tmp_path, site, (), {"CUDA_HOME": str(root)}, "-DBNB_CUDA=ON")
    assert r.returncode != 0
    assert "BNB_CUDA=ON, but the CUDA toolkit at" in out
    assert "(from the environment variable CUDA_HOME) is CUDA 12.4" in out


def test_an_architecture_the_toolkit_cannot_build_is_named(tmp_path):
    # CUDA 13 dropped sm_70 (Volta); asking for it is an error that lists what it can build
    root = _fake_nvcc(tmp_path, "13.0")
    r, out = _configure(tmp_path, _fake_torch(tmp_path, cuda="13.0"), [root / "bin"], None, "-DBNB_CUDA_ARCHS=70;90")
    assert r.returncode != 0
    assert "BNB_CUDA_ARCHS=70;90: CUDA 13.0 cannot build 70 (it builds 75;80;86;89;90;100;120)" in out


def test_cpu_torch_with_cuda_asked_for_is_an_error(tmp_path):
    r, out = _configure(tmp_path, _fake_torch(tmp_path), (), None, "-DBNB_CUDA=ON")
    assert r.returncode != 0
    assert "BNB_CUDA=ON, but the installed torch 2.99.0 has no CUDA support" in out


@pytest.mark.skipif(not os.path.exists("/usr/include/hip/hip_runtime.h"), reason="needs the HIP headers")
def test_rocm_torch_selects_the_hip_backend(tmp_path):
    hipcc = tmp_path / "rocm" / "bin" / "hipcc"
    hipcc.parent.mkdir(parents=True)
    _script(hipcc, "echo 'HIP version: 6.2.41133-dd7f95766'\n")
    site = _fake_torch(tmp_path, hip="6.2.41133-dd7f95766")
    r, out = _configure(tmp_path, site, (), {"ROCM_PATH": str(tmp_path / "rocm")}, "-DBNB_HIP_ARCHS=gfx90a")
    assert r.returncode == 0, out
    assert "torch is not a CUDA build, no CUDA backend" in out
    assert f"bitsandbytes: HIP 6.2 ({hipcc}), architectures gfx90a" in out
    cache = (tmp_path / "build" / "CMakeCache.txt").read_text()
    assert "BNB_HIPCC:FILEPATH=" + str(hipcc) in cache


def test_rocm_torch_with_another_rocm_major_falls_back_to_cpu(tmp_path):
    hipcc = tmp_path / "rocm" / "bin" / "hipcc"
    hipcc.parent.mkdir(parents=True)
    _script(hipcc, "echo 'HIP version: 5.7.1'\n")
    site = _fake_torch(tmp_path, hip="6.2.41133")
    r, out = _configure(tmp_path, site, (), {"ROCM_PATH": str(tmp_path / "rocm")})
    assert r.returncode == 0, out
    assert "is HIP 5.7 but torch 2.99.0 is built with HIP 6.2.41133" in out
    assert "Building the CPU backend only" in out
