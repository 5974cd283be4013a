#!/usr/bin/env bash
#   One command on a fresh Debian 12 machine: install what is missing, build,
#   run every test. Extra arguments go to ctest (e.g. -R integration -V).
#
#   ZB_BUILD_DIR     build directory (default: build)
#   ZB_SANITIZE=1    build with ASan+UBSan (tests run with stretched deadlines)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
build=${ZB_BUILD_DIR:-build}
sanitize=OFF
if [ "${ZB_SANITIZE:-0}" = 1 ]; then
    sanitize=ON
    export ZB_TEST_SLOW=${ZB_TEST_SLOW:-3}
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
cmake -S . -B "$build" -DZB_WERROR=ON -DZB_SANITIZE=$sanitize >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure "$@"
