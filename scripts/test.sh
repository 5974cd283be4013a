#!/usr/bin/env bash
#   One command on a fresh Debian 12 machine: install what is missing, build,
#   run every test. Extra arguments go to ctest (e.g. -R integration -V).
#
#   ZB_BUILD_DIR     build directory (default: build)
#   ZB_SANITIZE=1    build with ASan+UBSan (tests run with stretched deadlines,
#                    the lossy-link soaks held 30 s instead of 120 s and 90 s)
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
    #   The soaks' length is for the odds of a false alarm, which the plain
    #   run measures; under the sanitizers they look for memory errors on
    #   the lossy paths, which 30 s of 10% loss walks many times over.
    export ZB_FAULT_LOSSY_S=${ZB_FAULT_LOSSY_S:-30}
    export ZB_FAULT_UDP_LOSSY_S=${ZB_FAULT_UDP_LOSSY_S:-30}
fi
cmake -S . -B "$build" -DZB_WERROR=ON -DZB_SANITIZE=$sanitize >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure "$@"
