#!/usr/bin/env bash
#   A local demo on loopback: installs what is missing, builds, then runs a
#   monitor, two agents (web-1, db-1) and three real redis-servers, prints the
#   status page's URL and `zbeat status` every few seconds. Ctrl-C stops
#   everything.
#
#   ZB_DEMO_DIR   where the demo keeps its DB, configs and logs
#                 (default: a fresh temp dir)
#   ZB_DEMO_ONCE  set to 1 to start everything, print the status once and stop
#   ZB_DEMO_HTTP  the status page's HOST:PORT (default: 127.0.0.1, a free port)
#   ZB_DEMO_BIN   use the binaries in this directory instead of building
#                 (both used by the test that keeps this script honest)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${ZB_DEMO_BIN:-}" ]; then
    bin=$ZB_DEMO_BIN
else
    scripts/deps.sh
    cmake -S . -B build -DZB_WERROR=ON >/dev/null
    cmake --build build -j"$(nproc)" >/dev/null
    bin=$PWD/build/bin
fi

dir=${ZB_DEMO_DIR:-$(mktemp -d /tmp/zbeat-demo.XXXXXX)}
mkdir -p "$dir"
pids=()
#   Stops in reverse order of start: agents (a planned stop each), then the
#   monitor, then the services, so that shutting down records no outage.
cleanup() {
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT
#   A signal ends the script (its EXIT trap cleans up), wherever it was.
trap 'exit 130' INT TERM

#   Ports: let the kernel pick free ones.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ingest=$(free_port)
redis_port=()
for i in 0 1 2; do
    redis_port[$i]=$(free_port)
    redis-server --port "${redis_port[$i]}" --bind 127.0.0.1 --save '' --appendonly no \
        >"$dir/redis-$i.log" 2>&1 &
    pids+=($!)
    echo $! >"$dir/redis-$i.pid"
done

db=$dir/zbeat.db
#   The status page on loopback only: it has no users here (docs/http.md).
http=${ZB_DEMO_HTTP:-127.0.0.1:$(free_port)}
"$bin/zbeat-monitor" --db "$db" --bind "tcp://127.0.0.1:$ingest" --liveness 3 \
    --http "$http" >"$dir/monitor.log" 2>&1 &
pids+=($!)

agent() { # name, then service lines "name port"
    local name=$1
    shift
    {
        printf 'agent\n    name = %s\n    monitor = tcp://127.0.0.1:%s\n    beat = 1s\nservice\n' \
            "$name" "$ingest"
        while [ $# -gt 0 ]; do
            printf '    %s\n        probe = 127.0.0.1:%s\n        send = "PING\\r\\n"\n' "$1" "$2"
            printf '        expect = "+PONG"\n        interval = 1s\n        timeout = 500ms\n'
            shift 2
        done
    } >"$dir/$name.cfg"
    "$bin/zbeat-agent" -c "$dir/$name.cfg" >"$dir/$name.log" 2>&1 &
    pids+=($!)
    echo $! >"$dir/$name.pid"
}
agent web-1 cache "${redis_port[0]}" sessions "${redis_port[1]}"
agent db-1 redis "${redis_port[2]}"

status() { "$bin/zbeat" --db "$db" status --all; }  # a small fleet: every row
#   Wait (with a deadline) until both hosts and all three services are up:
#   rows of the table only (the monitor's line and the summary above it
#   say "up" and "alive" too, before every service is there).
rows_up() {
    status 2>/dev/null | awk '($1 == "web-1" || $1 == "db-1") && ($3 == "up" || $3 == "alive") { n++ } END { print n + 0 }'
}
for _ in $(seq 100); do
    [ "$(rows_up)" -ge 5 ] && break
    sleep 0.1
done

#   ... and until the status page answers.
page_up() { /usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "http://$http/healthz" 2>/dev/null; }
for _ in $(seq 100); do
    page_up && break
    sleep 0.1
done

cat <<EOF

zbeat demo in $dir
  monitor  tcp://127.0.0.1:$ingest, DB $db (logs: $dir/*.log)
  status page  http://$http/
  web-1    cache on :${redis_port[0]}, sessions on :${redis_port[1]}
  db-1     redis on :${redis_port[2]}

Try, in another terminal:
  kill -9 \$(cat $dir/redis-0.pid)                      # web-1/cache goes down at once
  redis-server --port ${redis_port[0]} --save '' --daemonize yes    # ... and comes back
  kill -STOP \$(cat $dir/db-1.pid)                      # db-1 goes silent after 3 beats
  kill -CONT \$(cat $dir/db-1.pid)
  $bin/zbeat --db $db outages
EOF
status
[ "${ZB_DEMO_ONCE:-0}" = 1 ] && exit 0
while sleep 3; do
    echo
    date -u +%H:%M:%S
    status || true
done
