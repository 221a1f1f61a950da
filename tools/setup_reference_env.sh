#!/usr/bin/env bash
# Creates a separate virtual environment holding the ORIGINAL bitsandbytes
# (from PyPI), used only to produce test fixtures (tools/make_fixtures.py) and
# side-by-side benchmarks (benchmarks/compare.py). Never imported by the package.
#   tools/setup_reference_env.sh [VENV_DIR]   (default: .venv-reference)
set -euo pipefail
venv="${1:-.venv-reference}"
python3 -m venv "$venv"
"$venv/bin/pip" install -q torch==2.13.0
"$venv/bin/pip" install -q bitsandbytes==0.50.2 scipy numpy safetensors "transformers==5.24.0" "accelerate==1.15.0"
echo "reference environment ready: $venv/bin/python"
