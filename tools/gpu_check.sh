#!/usr/bin/env bash
# One prepared check on a GPU machine (no network needed): builds the package
# with CUDA for the GPU it finds, runs every GPU test (each CUDA op against the
# CPU op) and the GPU benchmarks, and writes a short report. Every step runs
# under a timeout inside an overall budget (default 450 s), so the whole check
# stays under 8 minutes.
#
#   tools/gpu_check.sh [--out DIR] [--python PY] [--arch 90] [--budget SECONDS] [--build-timeout SECONDS] [--dry-run] [--no-build]
#
#   --out      where report.md and the logs go (default: $OUT, else build/gpu_check)
#   --python   the Python whose torch (a CUDA build) to build against
#              (default: $PYTHON, else /opt/torch/.venv/bin/python3 if present, else python3)
#   --arch     CUDA architecture (default: nvidia-smi's compute capability, else torch's)
#   --budget, --build-timeout   seconds for everything (450) and for the build (300)
#   --dry-run  no GPU needed: build (arch 90 unless given) and run the same steps; GPU
#              tests skip themselves. For trying the script on a machine without a GPU.
#   --no-build test the bitsandbytes that --python already imports (a GPU build)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT_DIR="${OUT:-$ROOT/build/gpu_check}"
PY="${PYTHON:-}"
ARCH=""
BUDGET=450
BUILD_TIMEOUT=300
DRY=0
NO_BUILD=0
while (($#)); do
  case "$1" in
    --out) OUT_DIR="$2"; shift 2 ;;
    --python) PY="$2"; shift 2 ;;
    --arch) ARCH="$2"; shift 2 ;;
    --budget) BUDGET="$2"; shift 2 ;;
    --build-timeout) BUILD_TIMEOUT="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --no-build) NO_BUILD=1; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z "$PY" ]]; then
  if [[ -x /opt/torch/.venv/bin/python3 ]]; then PY=/opt/torch/.venv/bin/python3; else PY=python3; fi
fi
mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/report.md"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bnb_gpu_check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS
step() { printf '\n== %s (%s, %ds elapsed)\n' "$1" "$(date +%T)" "$((SECONDS - START))"; }
# left SECONDS: what remains of the budget, capped at $1
left() {
  local l=$((BUDGET - (SECONDS - START)))
  ((l > $1)) && l=$1
  ((l < 5)) && l=5
  echo "$l"
}
: >"$REPORT"
say() { printf '%s\n' "$*" | tee -a "$REPORT"; }

step "device"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  GPU="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)"
  [[ -n "$ARCH" ]] || ARCH="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '. ')"
elif ((DRY)); then
  GPU="none (dry run)"
else
  echo "gpu_check.sh: nvidia-smi finds no GPU (use --dry-run to try the script without one)" >&2
  exit 1
fi
[[ -n "$ARCH" ]] || ARCH="$(timeout 60 "$PY" -c 'import torch; print("%d%d" % torch.cuda.get_device_capability())' 2>/dev/null)"
[[ -n "$ARCH" ]] || ARCH=90
TORCH="$(timeout 60 "$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>&1 | tail -n 1)"
NVCC="$(command -v nvcc >/dev/null && nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
say "# GPU check"
say ""
say "- device: $GPU (sm_$ARCH)"
say "- torch: $TORCH ($PY); nvcc: ${NVCC:-not found}; commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "- machine: $(nproc) cores; budget ${BUDGET}s"

if ((NO_BUILD)); then
  say "- build: skipped (--no-build)"
else
  step "build (CUDA, sm_$ARCH)"
  # Installed into a throwaway folder put first on PYTHONPATH: the machine's own
  # environment (torch, scikit-build-core, pytest) is used and never changed.
  : >"$OUT_DIR/build.log"
  export PYTHONPATH="$WORK/site"
  t0=$SECONDS
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" timeout "$(left "$BUILD_TIMEOUT")" "$PY" -m pip install -v --no-build-isolation --no-deps \
    --no-index --target "$WORK/site" -C build-dir="$WORK/build" -C cmake.define.BNB_CUDA=ON -C cmake.define.BNB_CUDA_ARCHS="$ARCH" . \
    >>"$OUT_DIR/build.log" 2>&1
  rc=$?
  BUILD_S=$((SECONDS - t0))
  if ((rc != 0)); then
    say "- build: FAILED (exit $rc after ${BUILD_S}s; build.log)"
    tail -n 40 "$OUT_DIR/build.log"
    exit 1
  fi
  say "- build: ${BUILD_S}s"
fi
(cd "$WORK" && timeout 60 "$PY" -m bitsandbytes) >"$OUT_DIR/diagnostics.txt" 2>&1
sed -n '/backends compiled in/,/GPU visible/p' "$OUT_DIR/diagnostics.txt" | sed 's/^ */  - /' | tee -a "$REPORT"

step "GPU tests"
# Every test file that exercises the GPU: the CUDA-vs-CPU files, and the GPU
# cases of the shared ones (marked or named gpu).
FILES=()
for f in tests/python/test_cuda_backend.py tests/python/test_int8_cuda.py tests/python/test_optim_cuda.py \
  tests/python/test_gpu_build.py tests/python/*gpu*.py tests/python/*cuda*.py; do
  [[ -f "$f" ]] && [[ ! " ${FILES[*]} " == *" $f "* ]] && FILES+=("$f")
done
say ""
say "## Tests"
say ""
say "| file | passed | failed | skipped | seconds |"
say "| --- | --- | --- | --- | --- |"
: >"$OUT_DIR/pytest.log"
FAILED=0
run_pytest() {  # label, pytest args...
  local label="$1"; shift
  local t0=$SECONDS line p f e s
  timeout "$(left 150)" "$PY" -m pytest -q -p no:cacheprovider "$@" >>"$OUT_DIR/pytest.log" 2>&1
  local rc=$?
  line="$(tail -n 3 "$OUT_DIR/pytest.log" | grep -E '(passed|failed|skipped|error|no tests ran)' | tail -n 1)"
  p="$(grep -oE '[0-9]+ passed' <<<"$line" | cut -d' ' -f1)"
  f="$(grep -oE '[0-9]+ failed' <<<"$line" | cut -d' ' -f1)"
  e="$(grep -oE '[0-9]+ errors?' <<<"$line" | cut -d' ' -f1)"
  s="$(grep -oE '[0-9]+ skipped' <<<"$line" | cut -d' ' -f1)"
  f=$((${f:-0} + ${e:-0}))
  ((rc == 124)) && f="timeout"
  ((rc != 0 && rc != 5)) && FAILED=1
  say "| $label | ${p:-0} | $f | ${s:-0} | $((SECONDS - t0)) |"
}
for f in "${FILES[@]}"; do
  run_pytest "${f#tests/python/}" "$f"
done
run_pytest "test_gemm_4bit.py -k gpu" tests/python/test_gemm_4bit.py -k gpu

step "GPU benchmarks"
say ""
say "## Benchmarks"
: >"$OUT_DIR/bench.log"
if ((DRY)); then
  say ""
  say "benchmarks: not run in a dry run (they need a GPU)"
elif [[ -f benchmarks/gpu/run.py ]]; then
  # run.py writes one markdown report, rewritten after each section (a timeout keeps
  # what was measured); --quick when less than 3 minutes are left.
  quick=(); (($(left 600) < 180)) && quick=(--quick)
  timeout "$(left 600)" "$PY" benchmarks/gpu/run.py --out "$OUT_DIR/benchmarks.md" "${quick[@]}" >"$OUT_DIR/bench.log" 2>&1
  rc=$?
  [[ -f "$OUT_DIR/benchmarks.md" ]] && cat "$OUT_DIR/benchmarks.md" >>"$REPORT"
  if ((rc != 0)); then
    say ""
    say "benchmarks FAILED (exit $rc; bench.log)"
    FAILED=1
  fi
else
  say ""
  say "benchmarks/gpu/run.py not in this tree: no GPU benchmarks run"
fi

say ""
say "Total: $((SECONDS - START))s; result: $( ((FAILED)) && echo FAILED || echo passed)"
cat "$REPORT"
exit "$FAILED"
