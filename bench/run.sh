#!/bin/sh
#   zbeat benchmarks: builds what they need, runs every item, prints the
#   results table and writes bench/results/latest.md (+ latest.json).
#   docs/benchmarks.md describes the items and the settings (BENCH_* env).
#
#   bench/run.sh                      # everything, ~13 minutes on 2 cores
#   BENCH_ONLY=1,2 BENCH_KILLS=10 bench/run.sh   # a quick look
#   BENCH_ONLY=6 bench/run.sh         # the lossy link alone (root: namespaces)
#   BENCH_ONLY=6f bench/run.sh        # item 6, fleet form: the silence detector with liveness
#                                     # datagrams vs the fixed threshold (root; lossy_fleet.py)
#   BENCH_ONLY=6u bench/run.sh        # item 6, monitor CPU for 10,000 hosts' datagrams (udp_load.py)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${ZB_BUILD_DIR:-$src/build-bench}

#   monit is only for the comparisons here, so it is installed here rather
#   than in scripts/deps.sh. BENCH_MONIT=0 skips them instead.
if [ "${BENCH_MONIT:-1}" != 0 ] && ! command -v monit >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y monit >/dev/null
    else
        echo "bench: monit is not installed (sudo apt-get install monit, or BENCH_MONIT=0)" >&2
        exit 2
    fi
fi

#   The daemons: a Release build of the main tree. The bench tools: a small
#   project of their own (bench/CMakeLists.txt) that builds only common/.
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
#   zb-netem (tests/faults) shapes the lossy link of item 6 where the kernel
#   has no sch_netem.
cmake --build "$build" -j2 --target zbeat-agent zbeat-monitor zbeat zb-netem >/dev/null
cmake -S "$here" -B "$build/bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build/bench" -j2 >/dev/null

case ",${BENCH_ONLY:-}," in
*,6f,*) ZB_BUILD_DIR=$build exec /usr/bin/python3 "$here/lossy_fleet.py" ;;
*,6u,*) ZB_BUILD_DIR=$build exec /usr/bin/python3 "$here/udp_load.py" ;;
esac
ZB_BUILD_DIR=$build exec /usr/bin/python3 "$here/bench.py"
