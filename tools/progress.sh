# Progress output for the long steps of tools/install.sh, run_tests.sh and cuda_torch_check.sh (sourced).
#
#   show_progress PATTERN COMMAND...   runs COMMAND; of its output, prints as they come only the
#                                      lines matching the extended regex PATTERN (its progress);
#                                      if it fails, prints the last 60 lines of its whole output
#   build ARGS...                      cmake --build ARGS, a line per compiled file or target
#   PIP_PROGRESS, SKBUILD_PROGRESS     patterns for pip install and for pip -v building this package

show_progress() {
  local - pattern="$1" log # `local -`: the pipefail below stays inside this function
  set -o pipefail
  shift
  log="$(mktemp)"
  if "$@" 2>&1 | tee "$log" | { grep --line-buffered -E "$pattern" || true; }; then
    rm -f "$log"
  else
    printf -- '-- failed: %s\n-- its last 60 lines of output:\n' "$*"
    tail -n 60 "$log"
    rm -f "$log"
    return 1
  fi
}

# Ninja's "[3/41] Building CXX object ..." and Make's "[ 42%] Building CXX object ..." lines
# (indented by two spaces when pip -v relays them).
BUILD_PROGRESS='^ *\[ *[0-9]+(/[0-9]+|%)\]'

# pip: a line per package it fetches or installs (nothing when all are there already).
PIP_PROGRESS='^ *(Collecting|Downloading|Installing collected|Successfully installed)'
# pip -v building this package: scikit-build-core's steps ("*** Building project with Ninja..."),
# CMake's "-- bitsandbytes: <backends>" and the build lines.
SKBUILD_PROGRESS="^ *(\*\*\* |-- bitsandbytes:)|$BUILD_PROGRESS"

build() { show_progress "$BUILD_PROGRESS" cmake --build "$@"; }
