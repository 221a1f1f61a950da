#!/usr/bin/env bash
# Installs everything on a fresh machine and builds this package against the
# installed torch.
#   tools/install.sh          torch (CPU wheel), runtime + example dependencies, the package
#   tools/install.sh --dev    also the C++ test toolchain (Debian: catch2, hipcc, libtbb-dev) when apt is available
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
source tools/progress.sh # show_progress: only the progress lines of a long step

if [[ "${1:-}" == "--dev" ]] && command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == "0" ]]; then
  need=()
  [[ -f /usr/include/catch2/catch.hpp ]] || need+=(catch2)
  command -v hipcc >/dev/null 2>&1 || need+=(hipcc libamdhip64-dev)
  [[ -f /usr/include/tbb/tbb.h ]] || need+=(libtbb-dev)  # the HIP CPU runtime's parallel algorithms
  if ((${#need[@]})); then
    echo "== apt-get install ${need[*]}"
    apt-get update -qq >/dev/null
    show_progress '^(Get:|Setting up )' env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  fi
fi

# torch first and alone: a bare `torch` requirement would pull a multi-GB CUDA build.
echo "== pip install torch"
show_progress "$PIP_PROGRESS" "$PY" -m pip install torch==2.13.0
echo "== pip install -r requirements/test.txt"
show_progress "$PIP_PROGRESS" "$PY" -m pip install -r requirements/test.txt
echo "== building bitsandbytes against torch $("$PY" -c 'import torch; print(torch.__version__)')"
show_progress "$SKBUILD_PROGRESS" "$PY" -m pip install -v --no-build-isolation --no-deps .
"$PY" -m bitsandbytes | sed -n '1,12p'
