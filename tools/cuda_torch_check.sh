#!/usr/bin/env bash
# Builds the package against a CUDA build of torch from PyPI, as a user with a
# CUDA machine would (pip install --no-build-isolation .), and checks the result
# on a machine without a GPU: it links, imports, registers every op for the CUDA
# dispatch key, loads the CUDA runtime pip installed beside torch, and a CUDA
# tensor gives torch's own error (tests/python/test_gpu_build.py).
#
# The CUDA torch lives in a virtual environment cached outside the checkout
# (BNB_CI_CACHE, default ~/.cache/bitsandbytes-ci): only the first run pays for
# the download (~5.5 GB installed). BNB_CI_CUDA_ARCHS (default 80;90) are the
# architectures built; every GPU kernel is compiled for each of them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
source tools/progress.sh # show_progress: only the progress lines of a long step
VENV="${BNB_CI_CACHE:-$HOME/.cache/bitsandbytes-ci}/venv-cuda"
ARCHS="${BNB_CI_CUDA_ARCHS:-80;90}"

if ! "$VENV/bin/python" -c 'import torch, pytest, scikit_build_core; assert torch.version.cuda' >/dev/null 2>&1; then
  echo "creating $VENV (a CUDA build of torch, once)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  show_progress "$PIP_PROGRESS" "$VENV/bin/pip" install torch==2.14.1 numpy pytest scikit-build-core pybind11
fi
"$VENV/bin/python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)'

echo "building for sm_${ARCHS//;/, sm_}"
CMAKE_BUILD_PARALLEL_LEVEL="${JOBS:-$(nproc)}" show_progress "$SKBUILD_PROGRESS" "$VENV/bin/pip" install -v --no-build-isolation --no-deps \
  --force-reinstall -C build-dir=build/ci-cuda-torch -C cmake.define.BNB_CUDA=ON \
  -C "cmake.define.BNB_CUDA_ARCHS=$ARCHS" .

# outside the checkout, so the installed package is imported, not python/
(cd "$VENV" && bin/python -m bitsandbytes | sed -n '/backends compiled in/,/GPU visible/p')
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/python/test_gpu_build.py
