#!/usr/bin/env bash
# Installs everything on a fresh machine and builds this package against the
# installed torch.
#   tools/install.sh          torch (CPU wheel), runtime + example dependencies, the package
#   tools/install.sh --dev    also the C++ test toolchain (Debian: catch2, hipcc, libtbb-dev) when apt is available
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

if [[ "${1:-}" == "--dev" ]] && command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == "0" ]]; then
  need=()
  [[ -f /usr/include/catch2/catch.hpp ]] || need+=(catch2)
  command -v hipcc >/dev/null 2>&1 || need+=(hipcc libamdhip64-dev)
  [[ -f /usr/include/tbb/tbb.h ]] || need+=(libtbb-dev)  # the HIP CPU runtime's parallel algorithms
  if ((${#need[@]})); then
    echo "== apt-get install ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

# torch first and alone: a bare `torch` requirement would pull a multi-GB CUDA build.
echo "== pip install torch"
"$PY" -m pip install -q torch==2.13.0
echo "== pip install -r requirements/test.txt"
"$PY" -m pip install -q -r requirements/test.txt
echo "== building bitsandbytes against torch $("$PY" -c 'import torch; print(torch.__version__)')"
"$PY" -m pip install -q --no-build-isolation --no-deps .
"$PY" -m bitsandbytes | sed -n '1,12p'
