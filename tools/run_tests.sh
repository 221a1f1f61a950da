#!/usr/bin/env bash
# Runs every test: the torch-free kernels (Catch2, plain and under ASan+UBSan),
# the CUDA build against a CUDA torch and the HIP link (where nvcc / hipcc exist), the GPU
# kernels on the CPU (HIP CPU runtime), the LibTorch example, lint, and the Python suite.
# Run tools/install.sh --dev first.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
JOBS="${JOBS:-$(nproc)}"
TORCH_CMAKE="$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }
source tools/progress.sh # build: cmake --build showing a line per compiled file

step "C++ kernel tests"
cmake -S . -B build/ci-tests -DBNB_TORCH=OFF -DBNB_TESTS=ON -DBNB_CUDA=OFF >/dev/null
build build/ci-tests -j "$JOBS"
ctest --test-dir build/ci-tests --output-on-failure -j "$JOBS" | tail -n 3

step "C++ kernel tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build/ci-asan -DBNB_TORCH=OFF -DBNB_TESTS=ON -DBNB_CUDA=OFF -DBNB_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
build build/ci-asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build/ci-asan --output-on-failure -j "$JOBS" | tail -n 3

if command -v nvcc >/dev/null 2>&1; then
  step "CUDA build against a CUDA torch from PyPI (sm_80, sm_90): links, imports without a GPU, every op registered"
  bash tools/cuda_torch_check.sh
else
  echo "nvcc not found: CUDA build check skipped"
fi

if command -v hipcc >/dev/null 2>&1; then
  step "HIP kernels linked into a shared library against libamdhip64 (gfx90a)"
  cmake -S . -B build/ci-hip -DBNB_TORCH=OFF -DBNB_CUDA=OFF -DBNB_HIP=KERNELS -DBNB_HIP_ARCHS=gfx90a >/dev/null
  build build/ci-hip -j "$JOBS" --target bnb_kernels_hip
  echo "HIP kernels linked, nothing undefined: build/ci-hip/libbnb_kernels_hip.so ($(readelf -d build/ci-hip/libbnb_kernels_hip.so | grep -o 'libamdhip64[^]]*'))"
else
  echo "hipcc not found: HIP link check skipped"
fi

# The GPU kernels compiled as C++ against AMD's HIP CPU runtime (next to the
# checkout in CI: ../shared/third_party/hip-cpu) and compared with the CPU kernels.
step "GPU kernels on the CPU (HIP CPU runtime)"
HIP_CPU_DIR="${BNB_HIP_CPU_DIR:-$(cd .. && pwd)/shared/third_party/hip-cpu}"
if [[ -f "$HIP_CPU_DIR/include/hip/hip_runtime.h" ]]; then
  cmake -S . -B build/ci-tests -DBNB_HIP_CPU_TESTS=ON -DBNB_HIP_CPU_DIR="$HIP_CPU_DIR" >/dev/null
  build build/ci-tests -j "$JOBS" --target bnb_gpu_kernel_tests
  build/ci-tests/tests/cpp/gpu/bnb_gpu_kernel_tests | tail -n 2
else
  echo "no HIP CPU runtime at $HIP_CPU_DIR (set BNB_HIP_CPU_DIR): GPU kernels on the CPU skipped"
fi

step "LibTorch example (no Python)"
cmake -S examples/cpp -B build/ci-example -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" >/dev/null
build build/ci-example -j "$JOBS"
build/ci-example/quantize_roundtrip "$("$PY" -c 'import bitsandbytes, os; print(os.path.join(os.path.dirname(bitsandbytes.__file__), "libbnb_ops.so"))')"

step "lint (ruff, clang-format)"
"$PY" -m ruff check python tests benchmarks examples tools
"$PY" -m ruff format --check python tests benchmarks examples tools
git ls-files 'csrc/*.h' 'csrc/*.cpp' 'csrc/*.cu' 'csrc/*.cuh' 'tests/cpp/*.cpp' 'tests/cpp/*.h' 'examples/cpp/*.cpp' \
  | xargs clang-format --dry-run -Werror

step "Python tests"
"$PY" -m pytest -q -p no:cacheprovider tests/python "$@"
