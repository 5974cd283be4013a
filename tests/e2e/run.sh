#!/bin/bash
#   End-to-end test of the docker-compose deployment (issue 6).
#
#   Brings up docker-compose.yml (one monitor, three demo hosts, each with its
#   own network namespace holding redis, an agent and a push worker) under a
#   dedicated project name, then breaks real containers and checks what the
#   monitor recorded through the zbeat CLI's JSON:
#     1. all hosts alive and every service up
#     2. CURVE is on: a host added the documented way (a key pair on the keys
#        volume, its public certificate into the monitor's allow-list, no
#        restart) runs an agent on the real host's network (network_mode:
#        host) that reaches the monitor through the published ingest port; an
#        agent with a key not in the allow-list and one without a key are
#        refused: the monitor logs both, records nothing from them
#     3. docker kill host1's redis -> a service outage (exited 137: the agents
#        find their redis by its Docker labels and read how it ended); start
#        it -> closed; docker-compose stop it -> stopped, no outage, no alert
#     4. docker network disconnect host2 -> host silent, services unknown, a
#        host outage; reconnect -> closed; exactly one alert for it (and its
#        recovery notice) through the configured channel, none for its services
#     5. docker-compose restart monitor while host3's redis is down -> the
#        outage is still there, once, and closes when redis returns
#     6. the whole outage and alert history is exactly what steps 3-5 caused
#   Before and after the build: the compose file, left to its defaults,
#   publishes the monitor's ports on 127.0.0.1 only (docker-compose config),
#   and the running monitor's ports are bound there (docker port).
#   Every wait is a poll on a condition with a deadline. The stack is always
#   taken down (docker-compose down -v), and container logs are printed when a
#   step fails.
#
#   Exit 0 on pass (or SKIP when no Docker engine is reachable), 1 on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
t_start=$EPOCHREALTIME

#   A dedicated project, image tag and loopback-only random host ports, so the
#   test never touches or collides with a user's stack (project "zbeat").
project=zbeat-e2e
export ZBEAT_TAG=e2e
export ZBEAT_INGEST_PORT=127.0.0.1:
export ZBEAT_ALERT_PORT=127.0.0.1:
export ZBEAT_UDP_PORT=127.0.0.1:
export ZBEAT_HTTP_PORT=127.0.0.1:
edge_name=$project-edge1
#   Agents the monitor must refuse: an unlisted key, no key at all.
rogue_names="$project-rogue1 $project-rogue2"
keys_volume=${project}_zbeat-keys

if ! command -v docker >/dev/null 2>&1 || ! timeout 30 docker info >/dev/null 2>&1; then
    echo "SKIP: e2e: no Docker engine reachable (docker info failed)"
    exit 0
fi
if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
else
    echo "SKIP: e2e: Docker engine found but neither docker-compose nor 'docker compose'"
    exit 0
fi
compose+=(-p "$project" -f "$root/docker-compose.yml")

# --- helpers ---------------------------------------------------------------

elapsed() { # elapsed SINCE -> seconds with one decimal
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}
plus() { # plus TIME DELTA -> TIME+DELTA (awk's default %.6g would round it)
    awk -v t="$1" -v d="$2" 'BEGIN { printf "%.6f", t + d }'
}
step_no=0
step_t=$t_start
step() {
    [ "$step_no" -eq 0 ] || echo "    ($(elapsed "$step_t")s)"
    step_no=$((step_no + 1))
    step_t=$EPOCHREALTIME
    echo "== step $step_no: $* [at $(elapsed "$t_start")s]"
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
check() { /usr/bin/python3 "$here/check.py" "$@"; }

#   The CLI inside the monitor container (ZBEAT_DB is set in the image).
#   docker exec on the compose container: the same as `docker-compose exec -T
#   monitor zbeat ...`, without compose's start-up time in every poll.
zb() { docker exec "$monitor" zbeat "$@"; }
status_is() { zb status --json | check "$@"; }
outages_are() { zb outages --json | check "$@"; }
alerts_are() { zb alerts --json | check "$@"; }
hosts_are() { zb hosts --json | check "$@"; }
#   What the monitor's alert channel "log" (docker/config/monitor.cfg, an exec
#   hook) received: one alert JSON per line; no file yet means no alert yet.
alert_log_is() {
    docker exec "$monitor" sh -c 'cat /var/lib/zbeat/alerts.jsonl 2>/dev/null || true' |
        check "$@"
}

#   wait_for TIMEOUT WHAT CMD...: runs CMD every 0.2 s until it succeeds;
#   fails the test with CMD's last output after TIMEOUT seconds. Sets waited.
waited=0
wait_for() {
    local timeout=$1 what=$2 t0=$EPOCHREALTIME out
    shift 2
    while :; do
        if out=$("$@" 2>&1); then
            waited=$(elapsed "$t0")
            echo "    $what: after ${waited}s (${out##*$'\n'})"
            return 0
        fi
        if awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'
        then
            fail "timed out after ${timeout}s waiting for: $what; last check: ${out##*$'\n'}"
        fi
        sleep 0.2 # the poll period, not a synchronisation
    done
}

#   assert WHAT CMD...: CMD must succeed now.
assert() {
    local what=$1 out
    shift
    out=$("$@" 2>&1) || fail "$what: ${out##*$'\n'}"
    echo "    $what: ${out##*$'\n'}"
}

cid() { "${compose[@]}" ps -q "$1"; }

#   monitor_link CONTAINER: the local port of CONTAINER's established TCP
#   connection to the monitor's port 7400 (hex 1CE8), from the kernel's table
#   in its network namespace; fails when there is none. awk reads the whole
#   table: leaving early would end docker exec with a broken pipe, which
#   pipefail reports as a failure although the connection was found.
monitor_link() {
    docker exec "$1" cat /proc/net/tcp |
        awk '!found && $3 ~ /:1CE8$/ && $4 == "01" { split($2, a, ":"); port = a[2]; found = 1 }
             END { if (found) print port; exit !found }'
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ]; then
        echo "==== e2e failed in step $step_no; containers and their logs:"
        "${compose[@]}" ps
        if [ -n "${monitor:-}" ]; then
            for what in status outages alerts; do
                echo "---- zbeat $what"
                zb "$what"
            done
        fi
        for c in $edge_name $rogue_names; do
            if docker container inspect "$c" >/dev/null 2>&1; then
                docker logs --timestamps "$c" 2>&1 | sed "s/^/$c | /"
            fi
        done
        "${compose[@]}" logs --no-color --timestamps --tail=300
    fi
    # shellcheck disable=SC2086 # word splitting wanted
    docker rm -fv $edge_name $rogue_names >/dev/null 2>&1
    "${compose[@]}" down -v --remove-orphans --timeout 5 >/dev/null 2>&1 ||
        echo "e2e: warning: docker-compose down -v failed" >&2
    [ -z "${tmp:-}" ] || rm -rf "$tmp"
    if [ "$rc" -eq 0 ]; then
        echo "PASS: e2e in $(elapsed "$t_start")s"
    else
        echo "FAIL: e2e (exit $rc) after $(elapsed "$t_start")s"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tmp=$(mktemp -d /tmp/zbeat-e2e.XXXXXX)
chmod 0755 "$tmp"

# --- the test -----------------------------------------------------------------

step "the compose file's defaults publish on 127.0.0.1 only"
#   Without this test's own port settings: what a user's `up` would publish.
#   7402 is an unauthenticated alert stream.
default_ports() {
    env -u ZBEAT_INGEST_PORT -u ZBEAT_ALERT_PORT -u ZBEAT_UDP_PORT -u ZBEAT_HTTP_PORT \
        "${compose[@]}" config | check published-local
}
assert "default published ports" default_ports

step "base image, build, up"
"$root/docker/base-image.sh"
#   A stack left over by an interrupted run would carry its database along.
"${compose[@]}" down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true
# shellcheck disable=SC2086 # word splitting wanted
docker rm -fv $edge_name $rogue_names >/dev/null 2>&1 || true
#   `up -d --build` in two steps: every zbeat service shares one image and the
#   demo redis services another, so build each once, from one snapshot of the
#   tree, and time it; `up` then finds both images.
t=$EPOCHREALTIME
"${compose[@]}" build --force-rm monitor redis1 >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; fail "image build failed"; }
echo "    images built in $(elapsed "$t")s"
t=$EPOCHREALTIME
"${compose[@]}" up -d >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; fail "docker-compose up failed"; }
echo "    stack up in $(elapsed "$t")s"
monitor=$(cid monitor)
[ -n "$monitor" ] || fail "no monitor container"
monitor_ports() { docker port "$monitor" | check published-local; }
assert "monitor's ports bound on loopback" monitor_ports
docker image ls "zbeat:$ZBEAT_TAG" --format '    image zbeat:{{.Tag}}: {{.Size}}'

step "all 3 hosts alive, redis and worker up on each"
wait_for 120 "3 hosts alive, all services up" \
    status_is status-up host1,host2,host3 redis,worker
#   The quick start's own command, through docker-compose exec.
"${compose[@]}" exec -T monitor zbeat status | sed 's/^/    | /'
#   Nothing went down while the stack came up (the agents start after redis).
assert "no outages after start-up" outages_are outage-set
assert "no alerts after start-up" alerts_are alerts-sent 0
#   The agents' liveness datagrams (sealed with their keys) reach the monitor:
#   the adaptive silence detector judges every host (docs/operations.md).
wait_for 30 "datagrams from every host" hosts_are datagrams host1,host2,host3
health_all() {
    local c h bad=""
    for c in monitor agent1 agent2 agent3 worker1 redis1; do
        h=$(docker inspect -f '{{.State.Health.Status}}' "$(cid $c)")
        [ "$h" = healthy ] || bad="$bad $c=$h"
    done
    if [ -n "$bad" ]; then
        echo "not yet:$bad"
        return 1
    fi
    echo "healthchecks healthy"
}
wait_for 90 "docker healthchecks of monitor, agents, worker, redis" health_all

step "CURVE: a host added without a restart reaches the published port; unknown keys refused"
ingest=$("${compose[@]}" port monitor 7400)
case "$ingest" in 127.0.0.1:*) ;; *) fail "ingest published as '$ingest', not on loopback" ;; esac
#   monitor_log_has REGEX: the monitor's log (since its start) matches.
monitor_log_has() {
    local n
    n=$(docker logs "$monitor" 2>&1 | grep -cE "$1") || true
    echo "$n matching line(s) in the monitor's log"
    [ "$n" -gt 0 ]
}
#   edge_config NAME [CURVE]: an agent config on the host's network, with the
#   keys on the volume under /keys/NAME when CURVE is given.
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
edge_config() {
    printf 'agent\n    beat = 1s\n    listen = tcp://127.0.0.1:%s\n' "$(free_port)" >"$tmp/$1.cfg"
    [ -z "${2:-}" ] || printf '    cert = /keys/%s/%s.cert_secret\n    monitor-cert = /keys/%s/monitor.cert\n' \
        "$1" "$1" "$1" >>"$tmp/$1.cfg"
    chmod 0644 "$tmp/$1.cfg"
}
#   edge_agent CONTAINER HOST: zbeat-agent on the host's network namespace
#   (the real-host recipe), the keys volume read-only at /keys.
edge_agent() {
    docker run -d --name "$1" --network host \
        -e "ZBEAT_HOST=$2" -e "ZBEAT_MONITOR=tcp://$ingest" \
        -v "$tmp/$2.cfg:/etc/zbeat/agent.cfg:ro" -v "$keys_volume:/keys:ro" \
        "zbeat:$ZBEAT_TAG" zbeat-agent -c /etc/zbeat/agent.cfg >/dev/null
}
assert "CURVE on in the monitor" monitor_log_has "CURVE on: server key .*agents admitted from /keys/agents"
#   Adding a host, as docs/deploy.md says: its key pair (as the user zbeat,
#   who owns the volume), its public certificate into the allow-list, the
#   monitor's public certificate next to its secret. No restart.
docker run --rm -v "$keys_volume:/keys" "zbeat:$ZBEAT_TAG" sh -ec '
    zbeat keygen --host edge1 --out /keys/edge1 >/dev/null
    cp /keys/monitor/monitor.cert /keys/edge1/
    cp /keys/edge1/edge1.cert /keys/agents/
    zbeat keygen --host rogue1 --out /keys/rogue1 >/dev/null
    cp /keys/monitor/monitor.cert /keys/rogue1/' ||
    fail "cannot add keys to the volume $keys_volume"
#   An agent whose key was refused tries again only after a backoff (5 s
#   first): start it once the monitor has re-read its allow-list.
wait_for 10 "the monitor admits edge1's key, no restart" monitor_log_has "allow-list: admitted edge1 "
edge_config edge1 curve
edge_agent "$edge_name" edge1
wait_for 30 "edge1 alive via tcp://$ingest" status_is status edge1 alive
#   rogue1 has a key pair and the monitor's certificate, but its key is not in
#   the allow-list; rogue2 speaks plaintext.
edge_config rogue1 curve
edge_config rogue2
edge_agent "$project-rogue1" rogue1
edge_agent "$project-rogue2" rogue2
wait_for 30 "the monitor refuses rogue1's key" monitor_log_has \
    "refused a connection from .*: key .* is not in the allow-list /keys/agents"
#   The reason depends on which side sees the mismatch first: "security
#   mismatch" when the monitor reads rogue2's greeting, "the peer went
#   away" when rogue2 hangs up on the monitor's first.
wait_for 30 "the monitor drops rogue2's plaintext handshake" monitor_log_has \
    "dropped a connection that failed the handshake"
rogue1_refused() {
    docker logs "$project-rogue1" 2>&1 | grep -c "refused our key" || return 1
}
wait_for 30 "rogue1 knows it was refused" rogue1_refused
#   A dwell, not a synchronisation: refused agents send nothing that could be
#   waited for. edge1 and the demo hosts beat twice meanwhile.
sleep 2
assert "nothing recorded for rogue1 or rogue2" status_is absent rogue1,rogue2
assert "no host outages for them" outages_are outages rogue1 - 0 0
assert "the admitted agent still alive" status_is status edge1 alive
# shellcheck disable=SC2086 # word splitting wanted
docker rm -fv $rogue_names >/dev/null
docker stop -t 10 "$edge_name" >/dev/null
wait_for 15 "edge1 stopped on purpose (SIGTERM)" status_is status edge1 stopped
docker rm -v "$edge_name" >/dev/null

step "docker kill host1's redis -> service outage; start it -> closed"
redis1=$(cid redis1)
t_kill=$EPOCHREALTIME
docker kill "$redis1" >/dev/null
t_killed=$EPOCHREALTIME
wait_for 30 "host1/redis outage open" outages_are outages host1 redis 1 0
#   Refused connects are seen at once: the outage starts (agent's clock, the
#   same kernel clock) within one probe interval (1s) of the kill.
assert "detected within one probe interval" \
    outages_are outage-times host1 redis "$t_kill" "$(plus "$t_killed" +1.0)"
#   The agent found redis by its labels and saw the container die (docker
#   kill is no Docker stop): down with the exit, not a probe's guess.
assert "reason" outages_are reason host1 redis "exited 137"
assert "host1 still alive, redis down" status_is service host1 redis down
assert "other hosts untouched" status_is status-up host2,host3 redis,worker
wait_for 30 "the down alert for host1/redis through the log channel" \
    alert_log_is alert-log host1 redis down
t_fix=$EPOCHREALTIME
docker start "$redis1" >/dev/null
t_fixed=$EPOCHREALTIME
wait_for 30 "host1/redis outage closed" outages_are outages host1 redis 0 1
#   While down the agent reconnects with backoff capped at the interval (1s).
assert "recovery seen within two probe intervals" \
    outages_are outage-times host1 redis "$t_kill" "$(plus "$t_killed" +1.0)" \
    "$t_fix" "$(plus "$t_fixed" +2.0)"
wait_for 10 "host1/redis up" status_is service host1 redis up
wait_for 30 "its recovery alert" alert_log_is alert-log host1 redis down,recovered

step "docker-compose stop host1's redis -> stopped, no outage, no alert; start -> up"
#   Docker's stop (kill with the stop signal, die, stop) is a planned stop:
#   the agent reads it from the events stream, as a BYE from a push service.
"${compose[@]}" stop redis1 >/dev/null 2>&1 || fail "docker-compose stop redis1 failed"
wait_for 15 "host1/redis stopped" status_is service host1 redis stopped
assert "no new outage for host1/redis" outages_are outages host1 redis 0 1
"${compose[@]}" start redis1 >/dev/null 2>&1 || fail "docker-compose start redis1 failed"
wait_for 15 "host1/redis up again" status_is service host1 redis up
assert "still one outage, closed" outages_are outages host1 redis 0 1
assert "no alert for the stop" alert_log_is alert-log host1 redis down,recovered

step "docker network disconnect host2 -> host silent, services unknown; reconnect -> back"
host2=$(cid host2)
net=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$host2")
net=${net%% *}
[ -n "$net" ] || fail "host2 is on no network"
t_cut=$EPOCHREALTIME
docker network disconnect "$net" "$host2"
wait_for 30 "host2 silent, its services unknown" status_is status host2 silent unknown
#   liveness 5 x beat 1s: silent after 5 s, plus the monitor's sweep and our poll.
awk -v w="$waited" 'BEGIN { exit !(w <= 8.0) }' || fail "host2 flagged silent only after ${waited}s"
wait_for 10 "one open host outage for host2" outages_are outages host2 - 1 0
#   The outage starts when the monitor last heard host2: within a beat of the cut.
assert "host outage starts at the last beat before the cut" \
    outages_are outage-times host2 - "$(plus "$t_cut" -1.5)" \
    "$(plus "$t_cut" +0.5)"
assert "no service outages for the silent host's services" outages_are outages host2 redis 0 0
assert "no service outages for the silent host's services" outages_are outages host2 worker 0 0
assert "other hosts alive" status_is status-up host1,host3 redis,worker
wait_for 30 "one alert for host2 through the log channel" alert_log_is alert-log host2 - silent
docker network connect --alias host2 "$net" "$host2"
wait_for 60 "host2 back, host outage closed" outages_are outages host2 - 0 1
wait_for 30 "host2 alive, services up" status_is status-up host2 redis,worker
assert "still no service outages on host2" outages_are outages host2 redis 0 0
#   One incident, one alert (and its recovery notice): none for its services.
wait_for 30 "host2's recovery alert" alert_log_is alert-log host2 - silent,recovered
assert "no alerts for host2's redis" alert_log_is alert-log host2 redis ""
assert "no alerts for host2's worker" alert_log_is alert-log host2 worker ""

step "docker-compose restart monitor while host3's redis is down"
redis3=$(cid redis3)
docker kill "$redis3" >/dev/null
wait_for 30 "host3/redis outage open" outages_are outages host3 redis 1 0
wait_for 30 "its down alert" alert_log_is alert-log host3 redis down
agent3=$(cid agent3)
link=$(monitor_link "$agent3") || fail "agent3 has no connection to the monitor"
t=$EPOCHREALTIME
"${compose[@]}" restart monitor >"$tmp/restart.log" 2>&1 ||
    { cat "$tmp/restart.log"; fail "docker-compose restart monitor failed"; }
echo "    monitor restarted in $(elapsed "$t")s"
monitor=$(cid monitor)
#   The agent reconnects (a new connection, from another local port); from
#   then on every beat says host3's redis is down, and the monitor must
#   continue the outage it had, not open a second one.
new_link() { l=$(monitor_link "$agent3") && [ "$l" != "$link" ] && echo "port 0x$l"; }
wait_for 30 "agent3 reconnected to the restarted monitor" new_link
#   A dwell, not a synchronisation: nothing may change while beats flow, and
#   there is no event to wait for. 3 beats reach the monitor meanwhile.
sleep 3
assert "the open outage survived the restart, once" outages_are outages host3 redis 1 0
assert "host3 alive, redis down" status_is service host3 redis down
assert "all other hosts alive" status_is status-up host1,host2 redis,worker
assert "no second down alert after the restart" alert_log_is alert-log host3 redis down
docker start "$redis3" >/dev/null
wait_for 30 "host3/redis outage closed" outages_are outages host3 redis 0 1
wait_for 30 "its recovery alert" alert_log_is alert-log host3 redis down,recovered
wait_for 30 "all hosts alive, all services up" status_is status-up host1,host2,host3 redis,worker

step "the whole history is exactly what the test did"
assert "outage history" outages_are outage-set host1/redis:1 host2:1 host3/redis:1
assert "alerts received by the channel, each once" alert_log_is alert-log-set \
    host1/redis=down,recovered host2=silent,recovered host3/redis=down,recovered
assert "alerts recorded and delivered" alerts_are alerts-sent 6
zb outages | sed 's/^/    | /'
zb alerts | sed 's/^/    | /'
echo "    ($(elapsed "$step_t")s)"
