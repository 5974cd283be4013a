#!/usr/bin/env python3
"""zbeat --url against several shards (issue 22, docs/benchmarks.md): SHARDS
real monitors (plain HTTP on loopback), each with HOSTS hosts written into its
database (one in 1000 silent), each behind a small proxy that counts the
requests and the bytes of the answers, and that can hold every request for
DELAY_MS (a slow or far shard). For each zbeat given, it times `status` (the
table: problems and counts) and `status --json --state problems` with no
shard held, shard 0 held, and every shard held, and prints a markdown row
per case: median wall time, requests per question, bytes of /api/v1/hosts
answers per question.

    ZB_BUILD_DIR=build bench/cli_fanout.py [OLD_ZBEAT]
    env: BENCH_FANOUT_SHARDS (4), BENCH_FANOUT_HOSTS (100000),
    BENCH_FANOUT_DELAY_MS (1000), BENCH_FANOUT_RUNS (5)

OLD_ZBEAT: another zbeat binary (e.g. one built from an older commit) timed
the same way, side by side.
"""
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
from proxy_helpers import Proxy  # noqa: E402  (test_cli_remote.py's too)
from bench_proc import free_port

BUILD = os.environ.get("ZB_BUILD_DIR", os.path.join(SOURCE, "build"))
SHARDS = int(os.environ.get("BENCH_FANOUT_SHARDS", 4))
HOSTS = int(os.environ.get("BENCH_FANOUT_HOSTS", 100000))
DELAY_MS = int(os.environ.get("BENCH_FANOUT_DELAY_MS", 1000))
RUNS = int(os.environ.get("BENCH_FANOUT_RUNS", 5))


def held_for(seconds):
    """A Proxy's hold: the far shard's latency, by design."""
    def hold():
        time.sleep(seconds)
        return True
    return hold


def start_shard(tmp, n, procs):
    db = os.path.join(tmp, "s%d.db" % n)
    port = free_port()
    log = open(os.path.join(tmp, "s%d.log" % n), "wb")
    procs.append(subprocess.Popen(
        [os.path.join(BUILD, "bin", "zbeat-monitor"), "--db", db, "--bind",
         "tcp://127.0.0.1:%d" % free_port(), "--http", "127.0.0.1:%d" % port],
        stdout=log, stderr=subprocess.STDOUT))
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                sys.exit("shard %d did not start" % n)
            time.sleep(0.1)
    now = int(time.time() * 1000)
    conn = sqlite3.connect(db, timeout=30)
    conn.executemany(
        "INSERT INTO hosts (name, state, since_ms, interval_ms, last_seen_ms) "
        "VALUES (?, ?, ?, 1000, ?)",
        (("s%d-%06d" % (n, i), "silent" if i % 1000 == 0 else "alive", now - 60000,
          now - (60000 if i % 1000 == 0 else 0)) for i in range(HOSTS)))
    conn.commit()
    conn.close()
    return url


def main():
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return
    zbeats = [("this", os.path.join(BUILD, "bin", "zbeat"))]
    if len(sys.argv) > 1:
        zbeats.append(("old", sys.argv[1]))
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            proxies = [Proxy(start_shard(tmp, n, procs), timeout=300) for n in range(SHARDS)]
            urls = ",".join(p.url for p in proxies)
            print("%d shards x %d hosts; a held shard answers each request %d ms late; median of %d"
                  % (SHARDS, HOSTS, DELAY_MS, RUNS))
            print("| zbeat | question | held shards | wall s | requests | /api/v1/hosts bytes |")
            print("|---|---|---|---|---|---|")
            for slow in ("none", "shard 0", "all"):
                for args in (["status"], ["status", "--json", "--state", "problems"]):
                    for name, zbeat in zbeats:
                        for n, p in enumerate(proxies):
                            held = slow == "all" or (slow == "shard 0" and n == 0)
                            p.hold = held_for(DELAY_MS / 1000.0) if held else None
                        times, before = [], [(p.requests(), p.hosts_bytes) for p in proxies]
                        for _ in range(RUNS):
                            began = time.monotonic()
                            r = subprocess.run([zbeat, "--url", urls] + args,
                                               capture_output=True, timeout=600)
                            times.append(time.monotonic() - began)
                            if r.returncode != 0:
                                sys.exit("%s %s: exit %d: %s" % (name, args, r.returncode,
                                                                 r.stderr.decode()[:300]))
                        requests = sum(p.requests() - b[0] for p, b in zip(proxies, before))
                        hosts_bytes = sum(p.hosts_bytes - b[1] for p, b in zip(proxies, before))
                        print("| %s | `%s` | %s | %.2f | %d | %d |" % (
                            name, " ".join(args), slow,
                            statistics.median(times), requests // RUNS, hosts_bytes // RUNS))
                        sys.stdout.flush()
        finally:
            for p in procs:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    main()
