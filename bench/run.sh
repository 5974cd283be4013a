#!/bin/sh
#   zbeat benchmarks: builds what they need, runs every item, prints the
#   results table and writes bench/results/latest.md (+ latest.json).
#   docs/benchmarks.md describes the items and the settings (BENCH_* env).
#
#   bench/run.sh                      # items 1 to 6, about 20 to 25 minutes on 2 cores
#                                     # (item 6 needs root: network namespaces)
#   BENCH_ONLY=1,2 BENCH_KILLS=10 bench/run.sh   # a quick look
#   BENCH_ONLY=6 bench/run.sh         # lossy links (issue 23, bench/lossy_fleet.py): 40 hosts
#                                     # of each kind, fixed threshold and datagrams + detector,
#                                     # each host behind a shaped link of its own; clean, 10%
#                                     # and 30% loss, 120 s windows: the shape (~13 minutes)
#   BENCH_ONLY=6 BENCH_FLEET_HOSTS=100 BENCH_FLEET_LOSSES=10 BENCH_FLEET_SECONDS=10800 \
#       bench/run.sh                  # a rate: 300 host-hours a kind at 10% (3 h 5 min);
#                                     # 30%: BENCH_FLEET_LOSSES=30 BENCH_FLEET_SECONDS=1200
#   BENCH_ONLY=6 BENCH_FLEET_FROM=fleet.log bench/run.sh   # the table of a saved
#                                     # lossy_fleet.py output (a run by hand), nothing run
#   BENCH_ONLY=6t bench/run.sh        # fixed-threshold tunings, one agent each (issue 11's
#                                     # sweep: docs/benchmarks.md's first lossy-link table)
#   BENCH_ONLY=6u bench/run.sh        # monitor CPU for 10,000 hosts' datagrams (udp_load.py)
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
#   ZB_TLS=openssl|gnutls picks the agent's TLS library (cmake/zb_tls.cmake;
#   default gnutls) for the daemons and the bench tools alike.
tls=${ZB_TLS:+-DZB_TLS=$ZB_TLS}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release $tls >/dev/null
#   zb-netem (tests/faults) shapes the lossy links of items 6 and 6t where
#   the kernel has no sch_netem.
cmake --build "$build" -j2 --target zbeat-agent zbeat-monitor zbeat zbeat-relay zb-netem >/dev/null
cmake -S "$here" -B "$build/bench" -DCMAKE_BUILD_TYPE=Release $tls >/dev/null
cmake --build "$build/bench" -j2 >/dev/null

case ",${BENCH_ONLY:-}," in
*,6u,*) ZB_BUILD_DIR=$build exec /usr/bin/python3 "$here/udp_load.py" ;;
esac
ZB_BUILD_DIR=$build exec /usr/bin/python3 "$here/bench.py"
