#!/usr/bin/python3
"""Where one monitor's CPU goes, by thread, under zb-bench-load (issue 22).

    bench/monitor_threads.py MONITOR LOADGEN [AGENTS [WINDOW_S]]
    e.g. bench/monitor_threads.py build/bin/zbeat-monitor build/bench/bin/zb-bench-load 100000

Starts MONITOR (its own database and port in a temporary directory, -v) and
LOADGEN with AGENTS simulated hosts x 20 services at a 1 s beat, thin beats
with a full one every 30, hosts joining at BENCH_RAMP_RATE a second (1,000).
After the ramp and 6 s more, over WINDOW_S seconds (15) it prints for each
thread of the monitor its CPU time (/proc/PID/task/TID/schedstat) per
message the monitor took (its own counter: the -v "stats: messages=" line,
every 5 s) and its system calls per message (perf stat --per-thread on the
syscall tracepoints, which unlike perf trace does not slow the calls).
PERF_RECORD=FILE records perf samples of the monitor for 5 s after the
window. BENCH_RELAY=1 puts one zbeat-relay (the one beside MONITOR, in
plaintext) between LOADGEN and the monitor, wired as
relay_shards.py wires it (LOADGEN connects to the relay's frontend, the
relay's backend connects to the monitor's bind endpoint, the monitor's
subscriptions flow up through it): the monitor then receives every host over
one TCP connection instead of LOADGEN's 100; the relay's threads, CPU and
system calls per message are printed beside the monitor's, and its
forwarded count at the end. Needs root (perf). docs/benchmarks.md,
"Monitor's own cost per message" and "A relay in front of one monitor",
has the results it gave.
"""
import collections
import datetime
import os
import re
import subprocess
import sys
import tempfile
import time
from bench_proc import cpu_seconds, start_load, start_monitor, start_relay

CALLS = ["poll", "epoll_wait", "recvfrom", "sendto", "read", "write", "fcntl", "futex", "getpid",
         "pwrite64", "pread64", "clock_nanosleep"]
WARM_S = 6


def threads(pids):
    """tid -> (name, CPU ns, pid) of every thread of each of pids."""
    out = {}
    for pid in pids:
        out.update(pid_threads(pid))
    return out


def pid_threads(pid):
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                out[tid] = (name, int(f.read().split()[0]), pid)
        except OSError:
            pass  # the thread ended
    return out


def taken_rate(log, w1, w2):
    """Messages a second the monitor took between wall times w1 and w2,
    from its stats lines (UTC timestamps)."""
    points = []
    with open(log) as f:
        for m in re.finditer(r"^(\S+)Z .*stats: messages=(\d+)", f.read(), re.M):
            t = datetime.datetime.fromisoformat(m.group(1)).replace(
                tzinfo=datetime.timezone.utc).timestamp()
            if w1 - 0.5 <= t <= w2 + 0.5:
                points.append((t, int(m.group(2))))
    if len(points) < 2:
        return None
    return (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])


def run(procs):
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    monitor_bin, load_bin = sys.argv[1], sys.argv[2]
    agents = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    window = float(sys.argv[4]) if len(sys.argv) > 4 else 15.0
    rate = float(os.environ.get("BENCH_RAMP_RATE", "1000"))
    ramp = agents / rate if agents > rate else 0.0
    tmp = tempfile.mkdtemp(prefix="zb-threads-")
    monitor, port, log = start_monitor(monitor_bin, tmp, agents, procs)
    relay = None
    names = {monitor.pid: "monitor"}
    if os.environ.get("BENCH_RELAY", "0") == "1":
        relay, load_port, relay_log = start_relay(
            os.path.join(os.path.dirname(monitor_bin), "zbeat-relay"), tmp,
            "tcp://127.0.0.1:%d" % port, procs)
        names[relay.pid] = "relay"
    else:
        load_port = port
    total_s = ramp + WARM_S + window + 15
    load, lines, ready = start_load(
        load_bin, load_port, ["--agents", str(agents), "--services", "20", "--duration-ms",
                         str(int(total_s * 1000)), "--ramp-ms", str(int(ramp * 1000)),
                         "--full-every", "30", "--marker-ms", "500"], procs)
    while time.monotonic() < ready + ramp + WARM_S:
        time.sleep(0.05)

    stat_file = os.path.join(tmp, "stat.txt")
    events = ["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + c for c in CALLS]
    load1 = open("/proc/loadavg").read().split()[0]
    w1, t1, before = time.time(), time.monotonic(), threads(names)
    load_cpu = cpu_seconds(load.pid)
    stat = subprocess.Popen(["perf", "stat", "--per-thread", "-x,", "-o", stat_file,
                             "-e", ",".join(events), "-p", ",".join(str(p) for p in names), "--",
                             "sleep", str(window)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(window)
    w2, t2, after = time.time(), time.monotonic(), threads(names)
    load_cpu = cpu_seconds(load.pid) - load_cpu
    load2 = open("/proc/loadavg").read().split()[0]
    stat.wait()
    if os.environ.get("PERF_RECORD"):
        subprocess.run(["perf", "record", "-g", "-s", "-p", str(monitor.pid), "-o",
                        os.environ["PERF_RECORD"], "--", "sleep", "5"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(5.5)  # the stats line after the window
    wall = t2 - t1
    rate = taken_rate(log, w1, w2 + 5)
    if not rate:
        sys.exit("no stats lines in the window: " + log)
    msgs = rate * wall
    print("M=%d%s: %.0f msg/s taken over %.1f s, load average %s -> %s" % (
        agents, " through a relay" if relay else "", rate, wall, load1, load2))
    for pid, who in names.items():
        cpu_all = 0.0
        print("  %s:" % who)
        for tid in sorted(after, key=int):
            if tid not in before or after[tid][2] != pid:
                continue
            cpu = (after[tid][1] - before[tid][1]) / 1e9
            cpu_all += cpu
            if cpu > 0.001:
                print("  %-8s %-16s %5.1f%% of a core  %.2f us/msg" % (
                    tid, after[tid][0], 100 * cpu / wall, 1e6 * cpu / msgs))
        print("  all      %-16s %5.1f%% of a core  %.2f us/msg" % (
            who, 100 * cpu_all / wall, 1e6 * cpu_all / msgs))
    print("  the load generator (sharing the machine): %.1f%% of a core" % (
        100 * load_cpu / wall))
    calls = collections.defaultdict(dict)
    with open(stat_file) as f:
        for line in f:
            fields = line.strip().split(",")
            if len(fields) >= 4 and fields[1].isdigit():
                calls[fields[0]][fields[3].split(":")[-1].replace("sys_enter_", "")] = \
                    int(fields[1])
    print("  system calls a message (perf stat):")
    for name, counts in sorted(calls.items(), key=lambda kv: int(kv[0].rsplit("-", 1)[-1])):
        n = counts.get("sys_enter", 0)
        if n >= 20:
            top = sorted(((k, v) for k, v in counts.items() if k != "sys_enter" and v),
                         key=lambda kv: -kv[1])[:7]
            tid = name.rsplit("-", 1)[-1]
            who = names.get(after[tid][2], "?") if tid in after else "?"
            print("    %-7s %-24s %.3f  (%s)" % (who, name, n / msgs, ", ".join(
                "%s %.3f" % (k, v / msgs) for k, v in top)))
    load.wait()
    if relay:
        relay.terminate()
        relay.wait(30)
        fwd = re.search(r"forwarded=(\d+)", open(relay_log).read())
        print("  relay: forwarded=%s" % (fwd.group(1) if fwd else "?"))
    monitor.terminate()
    monitor.wait(120)
    m = re.search(r"monitor stopping: (.*)", open(log).read())
    counters = dict(re.findall(r"(\w+)=(\d+)", m.group(1))) if m else {}
    done = [l for l in lines if l.startswith("done")]
    print("  %s; monitor: messages=%s seq_gaps=%s dropped=%s" % (
        done[0] if done else "?", counters.get("messages"), counters.get("seq_gaps"),
        counters.get("dropped")))


def main():
    procs = []
    try:
        run(procs)
    finally:
        # On every way out (sys.exit included): no monitor or load left
        # running to weigh on the next run.
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
