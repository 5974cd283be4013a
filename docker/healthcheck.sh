#!/bin/sh
#   HEALTHCHECK of the zbeat image: checks whichever zbeat program this
#   container runs (with or without an init process as PID 1).
#   - zbeat-monitor: alive, and its database answers a real query through the
#     CLI (schema present, file readable, not locked for good).
#   - zbeat-agent, zbeat-ping: alive and not stopped (a frozen process,
#     SIGSTOP, is state T; a dead one that nobody reaped is Z).
#   Exit 0 healthy, 1 unhealthy, with one line saying why.

role=""
pid=""
for dir in /proc/[0-9]*; do
    comm=$(cat "$dir/comm" 2>/dev/null) || continue
    case "$comm" in
    zbeat-monitor | zbeat-agent | zbeat-ping)
        role=$comm
        pid=${dir#/proc/}
        break
        ;;
    esac
done
if [ -z "$role" ]; then
    echo "unhealthy: no zbeat-monitor, zbeat-agent or zbeat-ping process"
    exit 1
fi

#   Field 3 of /proc/PID/stat is the state; field 2 (comm) has no spaces here.
state=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)
case "$state" in
T | t | Z | X | "")
    echo "unhealthy: $role (pid $pid) is in state '${state:-gone}'"
    exit 1
    ;;
esac

if [ "$role" = zbeat-monitor ]; then
    if ! out=$(zbeat status 2>&1 >/dev/null); then
        echo "unhealthy: zbeat status: $out"
        exit 1
    fi
fi
echo "healthy: $role (pid $pid)"
exit 0
