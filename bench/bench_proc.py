"""What every bench script asks of the machine: a free port, a process's CPU
time and its memory. Imported by bench.py and the stand-alone bench tools
(they run from bench/, so it is on their path)."""
import os
import socket
import subprocess
import sys
import threading
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """CPU time of every thread of pid, from schedstat (ns resolution)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended between the listing and the read
    return total / 1e9


def rss_kib(pid, field="VmRSS"):
    """A memory field of /proc/PID/status (VmRSS, VmHWM), KiB; 0 if absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def start_monitor(monitor_bin, tmp, hosts, procs):
    """A monitor of its own in tmp (database, config with max-hosts for
    hosts, log monitor.log, -v) on a free port, appended to procs once
    started; returns (process, port, log path)."""
    port = free_port()
    cfg = os.path.join(tmp, "monitor.cfg")
    with open(cfg, "w") as f:
        f.write("monitor\n    max-hosts = %d\n" % (hosts + 10))
    log = os.path.join(tmp, "monitor.log")
    monitor = start_logged([monitor_bin, "--db", os.path.join(tmp, "m.db"), "--bind",
                            "tcp://127.0.0.1:%d" % port, "-c", cfg, "-v"],
                           log, "monitor started", 20, procs)
    return monitor, port, log


def start_logged(argv, log, started, timeout_s, procs):
    """argv with its output in the file log, appended to procs; returns
    the process once the log holds the line started (exits the bench if it
    ends first or timeout_s passes)."""
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    procs.append(proc)
    start = time.time()
    while started not in open(log).read():
        if proc.poll() is not None or time.time() - start > timeout_s:
            sys.exit("%s did not start: %s" % (os.path.basename(argv[0]), open(log).read()))
        time.sleep(0.05)  # a poll of its log, not a synchronisation
    return proc


def start_load(load_bin, port, args, procs):
    """zb-bench-load against 127.0.0.1:port with args, appended to procs;
    waits for its "ready" line. Returns (process, its output lines so far,
    kept growing by a reader thread, the monotonic time in s it was ready
    at, by its own clock)."""
    load = subprocess.Popen([load_bin, "--endpoint", "tcp://127.0.0.1:%d" % port] + args,
                            stdout=subprocess.PIPE, text=True)
    procs.append(load)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(l.strip() for l in load.stdout),
                              daemon=True)
    reader.start()
    while not any(l.startswith("ready") for l in list(lines)):
        if load.poll() is not None:
            sys.exit("zb-bench-load ended before it was ready")
        time.sleep(0.05)  # a poll of its output, not a synchronisation
    ready = int([l for l in lines if l.startswith("ready")][0].split()[1]) / 1e6
    return load, lines, ready


def start_relay(relay_bin, tmp, monitors, procs):
    """A zbeat-relay (plaintext) with its frontend on a
    free port for the agents, its backend connecting to monitors (their
    bind endpoints, comma-separated), log relay.log in tmp; appended to procs
    once started. Returns (process, port, log path)."""
    port = free_port()
    log = os.path.join(tmp, "relay.log")
    relay = start_logged([relay_bin, "--bind", "tcp://127.0.0.1:%d" % port, "--monitor", monitors],
                         log, "relay started", 10, procs)
    return relay, port, log
