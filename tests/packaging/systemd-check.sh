#!/bin/bash
#   Runs inside a container whose PID 1 is systemd (tests/packaging/run.sh,
#   step 6), as root: installs the package and drives the real units.
#   Usage: systemd-check.sh DEB-FILE-NAME (the file is in /pkg)
set -euo pipefail
deb=/pkg/$1
cfail() {
    echo "FAIL: systemd container: $*" >&2
    cat /tmp/apt.log >&2 || true
    journalctl --no-pager -u zbeat-agent -u zbeat-monitor | tail -n 40 >&2
    exit 1
}
wait_for() { # wait_for SECONDS WHAT COMMAND...: poll COMMAND every 100 ms
    local limit=$1 what=$2 end=$((SECONDS + $1))
    shift 2
    until "$@"; do
        [ $SECONDS -lt $end ] || cfail "timed out after ${limit}s waiting for: $what"
        sleep 0.1
    done
}
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/tmp/apt.log 2>&1 || cfail "apt-get update"
apt-get install -y -qq --no-install-recommends "$deb" >>/tmp/apt.log 2>&1 ||
    cfail "apt-get install $deb"
for u in zbeat-agent zbeat-monitor; do
    [ "$(systemctl is-enabled $u.service 2>&1)" = disabled ] || cfail "$u is enabled on install"
done

#   The packaged monitor config as it is; the agent's gets a name and a probe
#   of the monitor's port (editing a conffile, as an administrator would).
sed -i 's/^#   name = web-1 /    name = sd-test/' /etc/zbeat/agent.cfg
grep -q '^    name = sd-test' /etc/zbeat/agent.cfg || cfail "agent.cfg has no '#   name = web-1' line"
printf '%s\n' service '    monitor-port' '        probe = 127.0.0.1:7400' >>/etc/zbeat/agent.cfg
systemctl start zbeat-monitor.service zbeat-agent.service || cfail "systemctl start"
db=/var/lib/zbeat/zbeat.db
status_has() { zbeat --db "$db" status --csv 2>/dev/null | grep -q "$1"; }
wait_for 30 "sd-test/monitor-port up" status_has '^sd-test,monitor-port,up,'
echo "started: both units; sd-test/monitor-port is up"

#   The sandbox is really in force, as user zbeat.
for u in zbeat-agent zbeat-monitor; do
    pid=$(systemctl show -p MainPID --value $u.service)
    grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/"$pid"/status || cfail "$u: NoNewPrivs is off"
    grep -q '^Seccomp:[[:space:]]*2$' /proc/"$pid"/status || cfail "$u: no seccomp filter"
    grep -q '^CapEff:[[:space:]]*0*$' /proc/"$pid"/status || cfail "$u: has capabilities"
    [ "$(stat -c %U /proc/"$pid")" = zbeat ] || cfail "$u runs as $(stat -c %U /proc/"$pid")"
done
[ "$(stat -c '%U %a' $db)" = "zbeat 640" ] || cfail "$db is $(stat -c '%U %a' $db)"
echo "sandboxed: NoNewPrivs, seccomp, no capabilities, user zbeat; $db is zbeat 640"

#   Reload: a good config is signalled (the agent keeps its PID); a broken
#   one makes `systemctl reload` fail before any signal is sent.
pid=$(systemctl show -p MainPID --value zbeat-agent.service)
systemctl reload zbeat-agent.service || cfail "systemctl reload zbeat-agent"
cp /etc/zbeat/agent.cfg /tmp/agent.cfg.good
echo "        bogus = 1" >>/etc/zbeat/agent.cfg
if systemctl reload zbeat-agent.service 2>/dev/null; then
    cfail "systemctl reload accepted a broken config"
fi
cp /tmp/agent.cfg.good /etc/zbeat/agent.cfg
systemctl is-active --quiet zbeat-agent.service || cfail "the agent died on reload"
[ "$(systemctl show -p MainPID --value zbeat-agent.service)" = "$pid" ] ||
    cfail "reload restarted the agent"
echo "reload: good config signalled, broken config refused, agent still PID $pid"

#   The monitor reloads in place too (SIGHUP re-reads monitor.cfg; before
#   it handled SIGHUP, `systemctl reload` killed it).
pid=$(systemctl show -p MainPID --value zbeat-monitor.service)
systemctl reload zbeat-monitor.service || cfail "systemctl reload zbeat-monitor"
monitor_reloaded() { journalctl --no-pager -u zbeat-monitor | grep -q 'reloaded .*monitor.cfg'; }
wait_for 20 "the monitor's reload in its log" monitor_reloaded
systemctl is-active --quiet zbeat-monitor.service || cfail "the monitor died on reload"
[ "$(systemctl show -p MainPID --value zbeat-monitor.service)" = "$pid" ] ||
    cfail "reload restarted the monitor"
wait_for 10 "sd-test/monitor-port still up" status_has '^sd-test,monitor-port,up,'
echo "reload: monitor re-read its config, still PID $pid"

#   Stop: SIGTERM is a planned stop with exit 0, so the units end inactive,
#   not failed, and the monitor records the host as stopped.
hosts_has() { zbeat --db "$db" hosts --csv 2>/dev/null | grep -q "$1"; }
systemctl stop zbeat-agent.service
wait_for 20 "host sd-test stopped" hosts_has '^sd-test,stopped,'
systemctl stop zbeat-monitor.service
for u in zbeat-agent zbeat-monitor; do
    state=$(systemctl show -p ActiveState --value $u.service)
    result=$(systemctl show -p Result --value $u.service)
    [ "$state/$result" = inactive/success ] || cfail "$u after stop: $state/$result"
done
echo "stopped: both units inactive/success; host sd-test stopped"

#   Removing the package while the daemons run: prerm stops them.
systemctl start zbeat-monitor.service zbeat-agent.service
apt-get remove -y -qq zbeat >>/tmp/apt.log 2>&1 || cfail "apt-get remove"
if pgrep -x zbeat-agent >/dev/null || pgrep -x zbeat-monitor >/dev/null; then
    cfail "daemons still running after apt-get remove"
fi
echo "removed: no zbeat process left"
