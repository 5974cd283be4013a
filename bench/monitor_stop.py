#!/usr/bin/python3
"""How long one large monitor takes to stop, and what its running last-heard
checkpoint costs a host (issue 22).

    bench/monitor_stop.py MONITOR LOADGEN [AGENTS [INTERVAL_MS [HOLD_S]]]
    e.g. bench/monitor_stop.py build/bin/zbeat-monitor build/bench/bin/zb-bench-load 100000 10000

Starts MONITOR (its own database and port in a temporary directory, -v) and
LOADGEN with AGENTS simulated hosts x 20 services at an INTERVAL_MS beat
(10,000), thin beats with a full one every 30, hosts joining at
BENCH_RAMP_RATE a second (1,000). After the ramp and HOLD_S seconds more
(35), the load still running, it sends the monitor SIGTERM and times it to
its exit. It prints that time, the load average at the start and at the
stop, and from the monitor's "monitor stopping:" line the running
checkpoint batches' rows and time (heard_rows, heard_us: the final
checkpoint of every host is not in them). docs/benchmarks.md, "Stopping a
large shard", has the results it gave.
"""
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from bench_proc import start_load, start_monitor


def run(procs, tmps):
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    monitor_bin, load_bin = sys.argv[1], sys.argv[2]
    agents = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    interval_ms = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    hold = float(sys.argv[5]) if len(sys.argv) > 5 else 35.0
    rate = float(os.environ.get("BENCH_RAMP_RATE", "1000"))
    ramp = agents / rate if agents > rate else 0.0
    tmp = tempfile.mkdtemp(prefix="zb-stop-")
    tmps.append(tmp)
    monitor, port, log = start_monitor(monitor_bin, tmp, agents, procs)
    load1 = open("/proc/loadavg").read().split()[0]
    # The load outlives the stop: the monitor stops under it.
    load, _, ready = start_load(
        load_bin, port, ["--agents", str(agents), "--services", "20", "--interval-ms",
                         str(interval_ms), "--duration-ms", str(int((ramp + hold + 120) * 1000)),
                         "--ramp-ms", str(int(ramp * 1000)), "--full-every", "30"], procs)
    while time.monotonic() < ready + ramp + hold:
        if monitor.poll() is not None:
            sys.exit("monitor ended early: " + log)
        time.sleep(0.1)
    load2 = open("/proc/loadavg").read().split()[0]
    t0 = time.monotonic()
    monitor.send_signal(signal.SIGTERM)
    monitor.wait(600)
    took = time.monotonic() - t0
    text = open(log).read()
    m = re.search(r"monitor stopping: (.*)", text)
    counters = dict(re.findall(r"(\w+)=(\d+)", m.group(1))) if m else {}
    rows, us = int(counters.get("heard_rows", 0)), int(counters.get("heard_us", 0))
    print("M=%d x 20, beat %d ms: stop %.2f s (exit %d); load average %s -> %s; running "
          "checkpoint %d rows in %.0f ms = %.1f us a host (longest batch %.1f ms); "
          "messages=%s seq_gaps=%s dropped=%s" % (
              agents, interval_ms, took, monitor.returncode, load1, load2, rows, us / 1000.0,
              us / rows if rows else 0.0, int(counters.get("heard_us_max", 0)) / 1000.0,
              counters.get("messages"), counters.get("seq_gaps"), counters.get("dropped")))


def main():
    procs = []
    tmp = []
    try:
        run(procs, tmp)
    finally:
        # On every way out: no monitor or load left running beside the next run.
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for path in tmp:  # the database is hundreds of MB
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
