#!/usr/bin/env python3
"""Shards behind one zbeat-relay (issue 22, docs/benchmarks.md): SHARDS monitors,
each with `hosts = sN-*`, one relay, and one zb-bench-load simulating HOSTS
hosts named sN-000000... (HOSTS/SHARDS per shard) at one beat per INTERVAL_MS. Reports what
each shard took (messages, foreign, dropped over its host cap), the relay's
forwarded count and CPU, and whether every shard kept up (messages taken close
to what its generator sent).

    ZB_BUILD_DIR=build-bench bench/relay_shards.py   (after bench/run.sh built it)
    env: BENCH_SHARD_HOSTS (1000000), BENCH_SHARDS (4), BENCH_SHARD_INTERVAL_MS
    (10000), BENCH_SHARD_SERVICES (1), BENCH_SHARD_SECONDS (60), BENCH_SHARD_FULL_EVERY
    (30: thin beats between full ones, as agents send them; 1: full beats only),
    BENCH_SHARD_RAMP_RATE (2000: hosts joining each shard per second; a new
    host costs rows and log lines that a beat does not, and a fleet joins over
    minutes, not at once; 0: all at once), BENCH_SHARD_WARMUP (one interval +
    5 s after the ramp: CPU is measured once every host has joined, as in
    item 3)
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from bench_proc import free_port, cpu_seconds, start_relay

BUILD = os.environ.get("ZB_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "build"))
HOSTS = int(os.environ.get("BENCH_SHARD_HOSTS", 1000000))
SHARDS = int(os.environ.get("BENCH_SHARDS", 4))
INTERVAL = int(os.environ.get("BENCH_SHARD_INTERVAL_MS", 10000))
SERVICES = int(os.environ.get("BENCH_SHARD_SERVICES", 1))
SECONDS = int(os.environ.get("BENCH_SHARD_SECONDS", 60))
FULL_EVERY = int(os.environ.get("BENCH_SHARD_FULL_EVERY", 30))
RAMP_RATE = int(os.environ.get("BENCH_SHARD_RAMP_RATE", 2000))
WARMUP = float(os.environ.get("BENCH_SHARD_WARMUP", INTERVAL / 1000.0 + 5))


def tool(name):
    """The daemons in BUILD/bin, the bench tools in BUILD/bench/bin (run.sh's layout)."""
    for path in (os.path.join(BUILD, "bin", name), os.path.join(BUILD, "bench", "bin", name)):
        if os.path.exists(path):
            return path
    sys.exit("%s not built (bench/run.sh builds it)" % name)


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read())[1]) / 1024


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    sys.exit("timed out waiting for " + what)


def taken_now(port):
    """messages + dropped (over the host cap) from a shard's /metrics,
    without a series per host and service (?detail=none): every one of a
    shard of 250,000 hosts × 20 is gigabytes a request."""
    import urllib.request
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics?detail=none" % port,
                                      timeout=5).read()
    except OSError:
        return -1
    total = 0
    for name in ("zbeat_messages_total", "zbeat_dropped_messages_total"):
        m = re.search(r"^%s (\d+)" % name, body.decode(), re.M)
        total += int(m[1]) if m else 0
    return total


def main():
    tmp = tempfile.mkdtemp(prefix="zb-bench-shards-")
    procs = []

    def start(args, name):
        log = open(os.path.join(tmp, name + ".log"), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        p.log_path = log.name
        procs.append(p)
        return p

    def text(p):
        with open(p.log_path) as f:
            return f.read()

    try:
        shards = []
        for n in range(SHARDS):
            port = free_port()
            cfg = os.path.join(tmp, "shard-%d.cfg" % n)
            with open(cfg, "w") as f:
                # Room for every host of the shard: the default cap is 10,000.
                f.write("monitor\n    hosts = s%d-*\n    max-hosts = %d\n"
                        % (n, HOSTS // SHARDS + 10))
            http = free_port()
            p = start([tool("zbeat-monitor"), "-c", cfg, "--db", os.path.join(tmp, "s%d.db" % n),
                       "--bind", "tcp://127.0.0.1:%d" % port, "--http", "127.0.0.1:%d" % http,
                       "--liveness", "3"], "shard-%d" % n)
            wait_for(lambda: "listening on" in text(p), 10, "shard %d" % n)
            p.http = http
            shards.append((p, port))
        relay, relay_port, relay_log = start_relay(
            tool("zbeat-relay"), tmp, ",".join("tcp://127.0.0.1:%d" % port for _, port in shards),
            procs)
        relay.log_path = relay_log  # read by text() as the others' logs are
        per = HOSTS // SHARDS
        ramp = per / RAMP_RATE if RAMP_RATE > 0 else 0.0
        # One generator for every shard's hosts (--groups names host i
        # s<i % SHARDS>-<i / SHARDS>): one process's wake-ups, not SHARDS'.
        gen = start([tool("zb-bench-load"), "--endpoint", "tcp://127.0.0.1:%d" % relay_port,
                       "--agents", str(per * SHARDS), "--groups", str(SHARDS), "--prefix", "s",
                       "--services", str(SERVICES), "--interval-ms", str(INTERVAL),
                       "--duration-ms", str(int((SECONDS + ramp) * 1000)),
                       "--ramp-ms", str(int(ramp * 1000)), "--sockets", str(20 * SHARDS),
                       "--full-every", str(FULL_EVERY)], "load")
        wait_for(lambda: "ready" in text(gen) or gen.poll() is not None, 120, "generator ready")
        # The first interval is every host joining (a full beat each, new
        # rows): the window opens after it.
        time.sleep(ramp + min(WARMUP, SECONDS / 2))
        cpu0 = {p.pid: cpu_seconds(p.pid) for p in [relay] + [s for s, _ in shards]}
        t0 = time.monotonic()
        # The generator's own CPU (it shares the machine): sampled while it
        # runs, as its /proc entry goes with it.
        gen0 = cpu_seconds(gen.pid)
        gen_cpu, gen_at = 0.0, t0
        while gen.poll() is None and time.monotonic() < t0 + SECONDS + 120:
            try:
                sample = cpu_seconds(gen.pid) - gen0
            except (OSError, IndexError):
                sample = -1.0  # it has just ended: keep the last full sample
            # A sample that went down missed threads that were ending (a
            # negative figure was printed once): only a full one counts.
            if sample >= gen_cpu:
                gen_cpu, gen_at = sample, time.monotonic()
            time.sleep(0.5)
        gen.wait(timeout=120)
        elapsed = time.monotonic() - t0
        cpu = {p.pid: cpu_seconds(p.pid) - cpu0[p.pid] for p in [relay] + [s for s, _ in shards]}
        rss = {p.pid: rss_mib(p.pid) for p in [relay] + [s for s, _ in shards]}
        # A shard's backlog (relay queue, its own) is handled after the
        # generators stop: its count's last move is when it drained. Every
        # shard is watched at once until none has moved for 2 s.
        last = {p.pid: (-1, t0 + elapsed) for p, _ in shards}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            now = time.monotonic()
            for p, _ in shards:
                # A read that failed (-1: a shard busy writing its hosts'
                # silence once the load has stopped) is no move.
                count = taken_now(p.http)
                if count >= 0 and count != last[p.pid][0]:
                    last[p.pid] = (count, now)
            if all(now - at >= 2.0 for _, at in last.values()):
                break
            time.sleep(0.1)
        for p, _ in shards:
            p.drained_s = max(0.0, last[p.pid][1] - (t0 + elapsed))
        done = re.search(r"done sent=(\d+)", text(gen))
        if not done:
            sys.exit("the generator failed: " + text(gen)[-400:])
        groups = dict(re.findall(r"^group (\d+) sent=(\d+)", text(gen), re.M))
        sent = [int(groups.get(str(n), 0)) for n in range(SHARDS)]
        print("hosts=%d shards=%d interval=%dms services=%d seconds=%d full-every=%d, joined "
              "over %.0f s (%.0f msg/s offered once joined; CPU over the last %.0f s)"
              % (HOSTS, SHARDS, INTERVAL, SERVICES, SECONDS, FULL_EVERY, ramp,
                 HOSTS * 1000.0 / INTERVAL, elapsed))
        print("generator: %.0f%% of a core" % (100 * gen_cpu / max(gen_at - t0, 1e-3)))
        relay.send_signal(signal.SIGTERM)
        relay.wait(30)
        fwd = re.search(r"forwarded=(\d+)", text(relay))
        print("relay: forwarded=%s of sent=%d, cpu %.1f s (%.0f%% of a core), rss %.0f MiB"
              % (fwd[1] if fwd else "?", sum(sent), cpu[relay.pid],
                 100 * cpu[relay.pid] / elapsed, rss[relay.pid]))
        ok = True
        # All stop at once: a shard far behind may take minutes (its final
        # checkpoint), and its line says so instead of ending the run.
        for p, _ in shards:
            p.send_signal(signal.SIGTERM)
        stop_by = time.monotonic() + 120
        for n, (p, _) in enumerate(shards):
            try:
                p.wait(max(0.0, stop_by - time.monotonic()))
            except subprocess.TimeoutExpired:
                ok = False
                print("shard s%d-*: sent %d, did not stop within 120 s of SIGTERM (taken not "
                      "known), cpu %.0f%% of a core, rss %.0f MiB: NOT KEPT UP"
                      % (n, sent[n], 100 * cpu[p.pid] / elapsed, rss[p.pid]))
                continue
            stats = dict(kv.split("=") for kv in
                         re.findall(r"monitor stopping: (.*)", text(p))[-1].split())
            taken = int(stats["messages"]) + int(stats["dropped"])
            # Kept up: nothing lost, and the backlog gone within one beat
            # interval of the load's end (else the shard ran behind).
            kept = (sent[n] > 0 and taken >= sent[n] and stats["dropped"] == "0"
                    and p.drained_s <= INTERVAL / 1000.0)
            ok = ok and kept and stats["foreign"] == "0"
            silent = len(re.findall(r" host silent: ", text(p)))
            print("shard s%d-*: sent %d, taken %d (%.1f%%), foreign %s, over the host cap %s, "
                  "input dropped %s, hosts flagged silent %d, "
                  "cpu %.0f%% of a core, rss %.0f MiB (%.0f B/host), backlog drained %.1f s after the "
                  "load %s"
                  % (n, sent[n], taken, 100.0 * taken / max(sent[n], 1), stats["foreign"],
                     stats["dropped"], stats.get("input_dropped", "?"), silent,
                     100 * cpu[p.pid] / elapsed, rss[p.pid],
                     rss[p.pid] * 1048576.0 / (HOSTS // SHARDS), p.drained_s,
                     "kept up" if kept else "BEHIND" if taken >= sent[n] else "LOST MESSAGES"))
        print("result: %s" % ("every shard kept up, only its own hosts reached it" if ok
                              else "NOT every shard kept up"))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        print("logs in %s" % tmp)


if __name__ == "__main__":
    main()
