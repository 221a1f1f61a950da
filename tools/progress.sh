# Progress output for the long steps of tools/install.sh and tools/run_tests.sh (sourced by both).
#
#   show_progress PATTERN COMMAND...   runs COMMAND; of its output, prints as they come only the
#                                      lines matching the extended regex PATTERN (its progress);
#                                      if it fails, prints the last 60 lines of its whole output
#   build ARGS...                      cmake --build ARGS, a line per compiled file or target

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

build() { show_progress "$BUILD_PROGRESS" cmake --build "$@"; }
