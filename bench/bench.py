#!/usr/bin/env python3
"""zbeat benchmarks (issue 8, docs/benchmarks.md). Run through bench/run.sh.

Every comparison runs side by side in the same run and is reported as a
ratio next to its target, because the machine is shared and absolute times
drift. Nothing here passes or fails: the table says where a target is met.

Sizes and durations come from the environment (see docs/benchmarks.md);
the defaults keep a full run to about 20 to 25 minutes on two cores, half
of it item 6 (bench/lossy_fleet.py).
"""

import calendar
import ctypes
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import zmq

import fleet_results
from bench_proc import free_port, cpu_seconds, rss_kib

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
BUILD = os.environ.get("ZB_BUILD_DIR", os.path.join(SOURCE, "build-bench"))
TOOLS = os.environ.get("ZB_BENCH_TOOLS", os.path.join(BUILD, "bench", "bin"))
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(HERE, "results"))


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_list(name, default):
    return [int(x) for x in os.environ.get(name, default).split(",") if x.strip()]


CFG = {
    "items": os.environ.get("BENCH_ONLY", "1,2,3,4,5,6"),
    "kills": env_int("BENCH_KILLS", 100),
    "hangs": env_int("BENCH_HANGS", 5),
    "monit": env_int("BENCH_MONIT", 1),
    "ingest_agents": env_list("BENCH_INGEST_AGENTS", "1000,2500,5000,7500,10000"),
    "ingest_services": env_int("BENCH_INGEST_SERVICES", 20),
    "ingest_seconds": env_int("BENCH_INGEST_SECONDS", 10),
    "ingest_warmup": env_int("BENCH_INGEST_WARMUP", 4),
    "ingest_attrib": env_int("BENCH_INGEST_ATTRIB", 1),
    # 0: the ladder without the bare SUB beside the monitor. The floor
    # doubles the generator's sends and takes a core's share of its own: on
    # two cores, at 100,000 msg/s, the three together fill the machine.
    "ingest_floor": env_int("BENCH_INGEST_FLOOR", 1),
    # Agents send a full beat on change and every N beats, thin ones
    # between (protocol v2); 1: every beat full (the v1 wire).
    "ingest_full_every": env_int("BENCH_INGEST_FULL_EVERY", 30),
    # The hosts' last-heard checkpoint, measured at this many hosts (0: skip).
    "heard_agents": env_int("BENCH_HEARD_AGENTS", 10000),
    # New hosts join at most this many per second (the load generator's
    # ramp): every new host writes its rows once, 21 for 20 services.
    "ingest_ramp_rate": env_int("BENCH_INGEST_RAMP_RATE", 1000),
    # The storm: this many hosts beat, then 10% of them fall silent at
    # once (0: skip; the figure is 100000).
    "storm_agents": env_int("BENCH_STORM_AGENTS", 0),
    "burst_services": env_int("BENCH_BURST_SERVICES", 10000),
    "scale_services": env_int("BENCH_SCALE_SERVICES", 10000),
    "scale_per_agent": env_int("BENCH_SCALE_PER_AGENT", 5000),
    "scale_seconds": env_int("BENCH_SCALE_SECONDS", 30),
    "monit_ports": env_int("BENCH_MONIT_PORTS", 1000),
    "monit_seconds": env_int("BENCH_MONIT_SECONDS", 15),
    "query_rows": env_list("BENCH_QUERY_ROWS", "10000,1000000"),
    "query_runs": env_int("BENCH_QUERY_RUNS", 20),
    # Item 6 (bench/lossy_fleet.py) reads its BENCH_FLEET_* settings itself;
    # here for the report. BENCH_FLEET_FROM: report a saved output instead.
    "fleet": {k: v for k, v in sorted(os.environ.items()) if k.startswith("BENCH_FLEET_")},
    "fleet_from": os.environ.get("BENCH_FLEET_FROM", ""),
    # Item 6t, the older sweep of fixed-threshold tunings, one agent each.
    "lossy_loss": float(os.environ.get("BENCH_LOSSY_LOSS", "30")),
    "lossy_delay": float(os.environ.get("BENCH_LOSSY_DELAY", "100")),
    "lossy_jitter": float(os.environ.get("BENCH_LOSSY_JITTER", "100")),
    "lossy_tunings": os.environ.get("BENCH_LOSSY_TUNINGS", "1s:3,1s:5,1s:10,1s:20,2s:10"),
    "lossy_seconds": env_int("BENCH_LOSSY_SECONDS", 120),
    "lossy_kills": env_int("BENCH_LOSSY_KILLS", 3),
    "lossy_control": env_int("BENCH_LOSSY_CONTROL", 1),
    "tls_kills": env_int("BENCH_TLS_KILLS", 30),
    "tls_scale_services": env_int("BENCH_TLS_SCALE_SERVICES", 10000),
    "tls_scale_seconds": env_int("BENCH_TLS_SCALE_SECONDS", 20),
    # more keys for item 4t's services, e.g. "listener-check = no"
    "tls_scale_keys": os.environ.get("BENCH_TLS_SCALE_KEYS", ""),
    # nginx's ssl_protocols in items 1t and 4t: Debian 12's nginx 1.22 offers
    # TLS 1.2 alone unless told (1.23.4 added 1.3 to its default)
    "tls_protocols": os.environ.get("BENCH_TLS_PROTOCOLS", "TLSv1.2 TLSv1.3"),
}

RESULTS_ROWS = []  # dicts: item, metric, value, floor, ratio, target, met, note
PROCS = []  # every child, killed at exit
TMP = tempfile.mkdtemp(prefix="zbeat-bench.")


def log(text):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), text), flush=True)


def tool(name):
    for d in (TOOLS, os.path.join(BUILD, "bin")):
        path = os.path.join(d, name)
        if os.path.exists(path):
            return path
    sys.exit("bench: %s not built (run bench/run.sh)" % name)


def wait_for(pred, timeout, what, step=0.005):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %.1fs waiting for: %s" % (timeout, what))
        time.sleep(step)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def pct(values, p):
    """Percentile by nearest rank (p in 0..100) of a non-empty list: the
    smallest value with at least p% of the values at or below it (rank
    ceil(p/100 * n); the p99 of 100 values is the 99th, not the largest)."""
    s = sorted(values)
    rank = math.ceil(p / 100.0 * len(s) - 1e-9)
    return s[max(0, min(len(s) - 1, rank - 1))]


# --------------------------------------------------------------------------
# Processes


class Proc:
    """A child process; stdout lines optionally captured with receipt times."""

    def __init__(self, args, name, lines=False, env=None):
        self.name = name
        self.log = os.path.join(TMP, name + ".log")
        self.errf = open(self.log, "wb")
        self.lines = []  # (monotonic time, text) when lines=True
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE if lines else self.errf,
                                  stderr=self.errf, env=env, start_new_session=True)
        PROCS.append(self)
        if lines:
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()

    def _read(self):
        for raw in self.p.stdout:
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def send(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.alive():
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if getattr(self, "reader", None):
            self.reader.join(5)
        self.errf.close()
        return self.p.returncode

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def find(self, prefix, start=0):
        for t, line in self.lines[start:]:
            if line.startswith(prefix):
                return t, line
        return None


def cleanup():
    for proc in PROCS:
        if proc.alive():
            try:
                proc.p.kill()
                proc.p.wait(5)
            except OSError:
                pass


def result(item, metric, value, floor=None, ratio=None, target="", met=None, note=""):
    row = dict(item=item, metric=metric, value=value, floor=floor, ratio=ratio, target=target,
               met=met, note=note)
    RESULTS_ROWS.append(row)
    log("RESULT %s | %s | %s | floor %s | ratio %s | target %s | %s %s" % (
        item, metric, value, floor, ratio, target,
        {True: "met", False: "MISSED", None: ""}[met], note))


def ms(x):
    return "%.2f ms" % (x * 1000.0)


# --------------------------------------------------------------------------
# Daemons


def start_redis(port, name):
    proc = Proc(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--protected-mode", "no"], name)
    wait_for(lambda: port_open(port), 10, "redis on %d" % port)
    return proc


def start_monitor(db, port, name, verbose=False, max_hosts=None):
    args = [tool("zbeat-monitor"), "--db", db, "--bind", "tcp://127.0.0.1:%d" % port]
    if max_hosts:
        cfg = os.path.join(TMP, name + ".cfg")
        with open(cfg, "w") as f:
            f.write("monitor\n    max-hosts = %d\n" % max_hosts)
        args += ["-c", cfg]
    if verbose:
        args.append("-v")
    proc = Proc(args, name)
    wait_for(lambda: "monitor started" in proc.text() or not proc.alive(), 20, "monitor start")
    if not proc.alive():
        raise RuntimeError("monitor died: " + proc.text())
    return proc


def monitor_counters(proc):
    m = re.search(r"monitor stopping: (.*)", proc.text())
    if not m:
        return {}
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def start_agent(cfg_text, name):
    path = os.path.join(TMP, name + ".cfg")
    with open(path, "w") as f:
        f.write(cfg_text)
    return Proc([tool("zbeat-agent"), "-c", path], name)


class Sub:
    """A SUB socket polled from the start by a thread; messages timestamped."""

    def __init__(self):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = "tcp://127.0.0.1:%d" % port
        self.msgs = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while self.running:
            if poller.poll(20):
                while True:
                    try:
                        frames = self.sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    t = time.monotonic()
                    try:
                        self.msgs.append((t, json.loads(frames[1])))
                    except (ValueError, IndexError):
                        pass

    def event_after(self, t0, service, to, start=0):
        for t, m in self.msgs[start:]:
            if (t >= t0 and m.get("type") == "event" and m.get("service") == service
                    and m.get("to") == to):
                return t
        return None

    def state(self, service):
        """The last state reported for service by an event or a beat."""
        for _, m in reversed(self.msgs):
            if m.get("type") == "event" and m.get("service") == service:
                return m["to"]
            if m.get("type") == "beat":
                for s in m.get("services", []):
                    if s["name"] == service:
                        return s["state"]
        return None

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close(0)


class LogTail:
    """Follows a growing log file; lines timestamped when first seen (2 ms polls)."""

    def __init__(self, path):
        self.path = path
        self.lines = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        buf = b""
        f = None
        while self.running:
            if f is None:
                try:
                    f = open(self.path, "rb")
                except OSError:
                    time.sleep(0.01)
                    continue
            chunk = f.read()
            if chunk:
                t = time.monotonic()
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self.lines.append((t, line.decode(errors="replace")))
            else:
                time.sleep(0.002)

    def find_after(self, t0, needle):
        for t, line in self.lines:
            if t >= t0 and needle in line:
                return t
        return None

    def close(self):
        self.running = False
        self.thread.join(2)


MONIT_HEAD = """set daemon 1
set log {dir}/monit.log
set pidfile {dir}/monit.pid
set idfile {dir}/monit.id
set statefile {dir}/monit.state
"""
MONIT_CHECK = """check host {name} with address 127.0.0.1
    if failed port {port} send "PING\\r\\n" expect "\\+PONG" with timeout 1 seconds then alert
"""


def start_monit(name, checks):
    """checks: [(name, port)]. Returns (proc, log path)."""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    rc = os.path.join(d, "monitrc")
    with open(rc, "w") as f:
        f.write(MONIT_HEAD.format(dir=d))
        for check, port in checks:
            f.write(MONIT_CHECK.format(name=check, port=port))
    os.chmod(rc, 0o600)
    proc = Proc(["monit", "-c", rc, "-I"], name)
    return proc, os.path.join(d, "monit.log")


def have_monit():
    if not CFG["monit"]:
        return False
    if shutil.which("monit"):
        return True
    log("monit not installed: the comparisons with monit are skipped (bench/run.sh installs it)")
    return False


# --------------------------------------------------------------------------
# Items 1 and 2: crash and hang detection, zbeat vs floor vs monit

AGENT_CFG = """agent
    name = bench
    monitor = {monitors}
    beat = 1s
service
    redis
        probe = 127.0.0.1:{port}
        send = "PING\\r\\n"
        expect = "+PONG"
        interval = 1s
        timeout = 500ms
        fails = 1
    redis-f3
        probe = 127.0.0.1:{port}
        send = "PING\\r\\n"
        expect = "+PONG"
        interval = 1s
        timeout = 500ms
        fails = 3
"""


class FloorClient:
    """The floor: a bare TCP client holding a connection to redis, timing EOF."""

    def __init__(self, port):
        self.port = port
        self.eof = None
        self.sock = None
        self.thread = None

    def arm(self):
        self.eof = None
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.greet()
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()

    def greet(self):
        self.sock.sendall(b"PING\r\n")
        if not self.sock.recv(64).startswith(b"+PONG"):
            raise RuntimeError("floor client: redis did not answer")

    def _wait(self):
        try:
            self.sock.recv(64)
        except OSError:
            pass
        self.eof = time.monotonic()
        self.sock.close()


def commit_floor(db):
    """One SQLite commit of one outage-like row: WAL, synchronous=NORMAL, as zb_store."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS outages (id INTEGER PRIMARY KEY, host TEXT, "
                 "service TEXT, started_at_ms INTEGER, ended_at_ms INTEGER, reason TEXT)")
    conn.execute("CREATE INDEX IF NOT EXISTS o_host ON outages (host, started_at_ms)")

    def once():
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO outages (host, service, started_at_ms, reason) "
                     "VALUES ('bench', 'redis', ?, 'refused')", (int(time.time() * 1000),))
        conn.execute("COMMIT")
        return time.perf_counter() - t
    return once


def open_outage(db_conn):
    row = db_conn.execute("SELECT id FROM outages WHERE host = 'bench' AND kind = 'service' "
                          "AND service = 'redis' AND ended_at_ms IS NULL").fetchone()
    return row[0] if row else None


def bench_detection():
    log("items 1-2: crash detection (%d kills), hang detection (%d stops)" % (
        CFG["kills"], CFG["hangs"]))
    use_monit = have_monit()
    rport, mport = free_port(), free_port()
    redis = start_redis(rport, "det-redis")
    db = os.path.join(TMP, "det.db")
    monitor = start_monitor(db, mport, "det-monitor")
    sub = Sub()
    agent = start_agent(AGENT_CFG.format(
        monitors="tcp://127.0.0.1:%d,%s" % (mport, sub.endpoint), port=rport), "det-agent")
    monit = tail = None
    if use_monit:
        monit, mlog = start_monit("det-monit", [("redis", rport)])
        tail = LogTail(mlog)
        wait_for(lambda: tail.find_after(0, "started"), 10, "monit start")
    wait_for(lambda: sub.state("redis") == "up" and sub.state("redis-f3") == "up", 20,
             "agent reports redis up")
    dbc = wait_for(lambda: os.path.exists(db) and sqlite3.connect(
        "file:%s?mode=ro" % db, uri=True, isolation_level=None), 10, "monitor db")
    floor_db = commit_floor(os.path.join(TMP, "floor.db"))
    floor = FloorClient(rport)
    ev, dbt, fl, fl_db, mon, missed = [], [], [], [], [], []

    def ready():
        ok = sub.state("redis") == "up" and sub.state("redis-f3") == "up"
        ok = ok and open_outage(dbc) is None
        if use_monit:
            last = [ln for _, ln in tail.lines if "'redis'" in ln]
            ok = ok and (not last or "succeeded" in last[-1])
        return ok

    for i in range(CFG["kills"]):
        wait_for(ready, 30, "everything sees redis up before kill %d" % i, step=0.01)
        floor.arm()
        # Random phase against the agent's 1 s pings and monit's 1 s cycle.
        time.sleep(random.uniform(0.05, 0.5 if not use_monit else 1.0))
        start = len(sub.msgs)
        t0 = time.monotonic()
        os.kill(redis.pid, signal.SIGKILL)
        t_db = None
        deadline = t0 + 5
        while time.monotonic() < deadline:
            if t_db is None and open_outage(dbc) is not None:
                t_db = time.monotonic()
            if t_db is not None:
                break
            time.sleep(0.0005)
        commit = floor_db()
        floor.thread.join(5)
        t_ev = wait_for(lambda: sub.event_after(t0, "redis", "down", start) or
                        time.monotonic() > t0 + 5, 6, "down event")
        t_mon = None
        if use_monit:
            t_mon = wait_for(lambda: tail.find_after(t0, "failed") or time.monotonic() > t0 + 5,
                             6, "monit failure")
        if t_ev is True or t_db is None or floor.eof is None or t_mon is True:
            missed.append(i)
        else:
            ev.append(t_ev - t0)
            dbt.append(t_db - t0)
            fl.append(floor.eof - t0)
            fl_db.append(floor.eof - t0 + commit)
            if use_monit:
                mon.append(t_mon - t0)
        redis.stop(signal.SIGKILL)
        redis = start_redis(rport, "det-redis-%d" % (i + 1))
        if (i + 1) % 10 == 0:
            log("  kill %d/%d: event p50 %s, db p50 %s, floor p50 %s%s" % (
                i + 1, CFG["kills"], ms(pct(ev, 50)), ms(pct(dbt, 50)), ms(pct(fl_db, 50)),
                ", monit p50 %s" % ms(pct(mon, 50)) if mon else ""))

    if ev:
        fp99 = pct(fl_db, 99)
        result("1 crash", "kill -> down event on PUB, p50", ms(pct(ev, 50)),
               ms(pct(fl_db, 50)), "%.1fx" % (pct(ev, 50) / pct(fl_db, 50)))
        result("1 crash", "kill -> down event on PUB, p99", ms(pct(ev, 99)), ms(fp99),
               "%.1fx" % (pct(ev, 99) / fp99), "p99 <= 3x floor", pct(ev, 99) <= 3 * fp99)
        result("1 crash", "kill -> outage row committed, p50", ms(pct(dbt, 50)),
               ms(pct(fl_db, 50)), "%.1fx" % (pct(dbt, 50) / pct(fl_db, 50)))
        result("1 crash", "kill -> outage row committed, p99", ms(pct(dbt, 99)), ms(fp99),
               "%.1fx" % (pct(dbt, 99) / fp99), "p99 <= 3x floor", pct(dbt, 99) <= 3 * fp99,
               "floor = bare TCP client EOF + one SQLite commit; n=%d, missed %d" % (
                   len(ev), len(missed)))
        result("1 crash", "floor parts p50: EOF / commit", "%s / %s" % (
            ms(pct(fl, 50)), ms(pct([a - b for a, b in zip(fl_db, fl)], 50))))
    if mon:
        ratio = pct(mon, 50) / pct(dbt, 50)
        result("2 monit", "kill -> monit failure, p50 (p99)", "%s (%s)" % (
            ms(pct(mon, 50)), ms(pct(mon, 99))), "zbeat db %s" % ms(pct(dbt, 50)),
            "%.0fx" % ratio, "zbeat >= 100x faster at p50", ratio >= 100,
            "monit: set daemon 1, send/expect on the same port")
        ratio_ev = pct(mon, 50) / pct(ev, 50)
        result("2 monit", "vs zbeat PUB event, p50", ms(pct(mon, 50)),
               "zbeat event %s" % ms(pct(ev, 50)), "%.0fx" % ratio_ev,
               "zbeat >= 100x faster at p50", ratio_ev >= 100)

    # Hangs: SIGSTOP. zbeat's bound is interval + timeout with fails = 1,
    # fails*interval + timeout with fails = 3; monit's is its cycle plus its
    # (whole-second) timeout.
    hang = {"redis": [], "redis-f3": [], "db": [], "monit": []}
    for i in range(CFG["hangs"]):
        wait_for(ready, 30, "everything sees redis up before stop %d" % i, step=0.01)
        time.sleep(random.uniform(0.1, 1.0))
        start = len(sub.msgs)
        t0 = time.monotonic()
        os.kill(redis.pid, signal.SIGSTOP)
        t_db = None
        while time.monotonic() < t0 + 8:
            if open_outage(dbc) is not None:
                t_db = time.monotonic()
                break
            time.sleep(0.001)
        got = {}
        for svc in ("redis", "redis-f3"):
            got[svc] = wait_for(lambda: sub.event_after(t0, svc, "down", start) or
                                time.monotonic() > t0 + 8, 9, "hang event")
        if use_monit:
            got["monit"] = wait_for(lambda: tail.find_after(t0, "failed") or
                                    time.monotonic() > t0 + 8, 9, "monit hang")
        os.kill(redis.pid, signal.SIGCONT)
        for key, t in got.items():
            if t is not True:
                hang[key].append(t - t0)
        if t_db:
            hang["db"].append(t_db - t0)
    if hang["redis"]:
        worst = max(hang["redis"])
        result("2 hang", "SIGSTOP -> down event, fails=1, max (p50)", "%s (%s)" % (
            ms(worst), ms(pct(hang["redis"], 50))), None, None,
            "<= interval + timeout + slot = 1510 ms", worst <= 1.51 + 0.05,
            "n=%d; +50 ms allowed for delivery" % len(hang["redis"]))
    if hang["redis-f3"]:
        worst = max(hang["redis-f3"])
        result("2 hang", "SIGSTOP -> down event, fails=3 (default), max (p50)", "%s (%s)" % (
            ms(worst), ms(pct(hang["redis-f3"], 50))), None, None,
            "<= 3*interval + timeout + slot = 3510 ms", worst <= 3.51 + 0.05)
    if hang["monit"]:
        result("2 hang", "SIGSTOP -> monit failure, max (p50)", "%s (%s)" % (
            ms(max(hang["monit"])), ms(pct(hang["monit"], 50))),
            None, "%.1fx zbeat fails=1 p50" % (pct(hang["monit"], 50) / pct(hang["redis"], 50))
            if hang["redis"] else None, "", None, "monit: cycle 1 s + timeout 1 s (its minimum)")

    sub.close()
    agent.stop()
    monitor.stop()
    if monit:
        tail.close()
        monit.stop()
    redis.stop(signal.SIGKILL)
    return {"event": ev, "db": dbt, "floor_eof": fl, "floor": fl_db, "monit": mon,
            "hang": hang, "missed": missed}


# --------------------------------------------------------------------------
# Item 3: monitor ingest


class MarkerWatch:
    """Polls the monitor's database for marker outages; lag = commit seen - sent."""

    def __init__(self, db):
        self.db = db
        self.seen = {}
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn = None
        while self.running:
            try:
                if conn is None:
                    conn = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True,
                                           isolation_level=None)
                rows = conn.execute("SELECT service FROM outages WHERE host = 'bench-marker'"
                                    ).fetchall()
                t = time.monotonic()
                for (svc,) in rows:
                    self.seen.setdefault(svc, t)
            except sqlite3.Error:
                conn = None
            time.sleep(0.005)

    def close(self):
        self.running = False
        self.thread.join(2)


def loadgen_markers(proc):
    out = {}
    for t, line in proc.lines:
        if line.startswith("marker "):
            _, n, us = line.split()
            out["m" + n] = int(us) / 1e6
    return out


def loadgen_progress(proc, at):
    """Messages sent by the time `at` (monotonic), from the progress lines."""
    sent = 0
    for _, line in proc.lines:
        if line.startswith("progress "):
            _, us, n = line.split()
            if int(us) / 1e6 <= at:
                sent = int(n)
    return sent


def monitor_define(name):
    """A number #defined by the monitor's actor (a period an item must
    outlast), read from its source rather than copied here."""
    files = ("zb_monitor.c", "zb_monitor_internal.h")
    for file in files:
        with open(os.path.join(SOURCE, "monitor", file)) as f:
            match = re.search(r"^#define %s (\d+)\b" % re.escape(name), f.read(), re.M)
        if match:
            return int(match.group(1))
    raise RuntimeError("monitor/%s define no %s" % (" and ".join(files), name))


def ramp_s(agents):
    """Seconds the load generator takes to start every host."""
    rate = CFG["ingest_ramp_rate"]
    return agents / rate if rate > 0 and agents > rate else 0.0


def run_load(endpoint, agents, seconds, extra=(), name="load"):
    ramp = ramp_s(agents)
    args = [tool("zb-bench-load"), "--endpoint", endpoint, "--agents", str(agents),
            "--services", str(CFG["ingest_services"]),
            "--duration-ms", str(int((seconds + ramp) * 1000)),
            "--ramp-ms", str(int(ramp * 1000))]
    args += ["--full-every", str(CFG["ingest_full_every"])]
    return Proc(args + list(extra), name, lines=True)


def measure_window(load, pids, warmup, seconds):
    """CPU of each pid and messages sent over [ready+warmup, ready+warmup+seconds]."""
    t_ready = wait_for(lambda: load.find("ready") or not load.alive(), 30, "loadgen ready")
    if t_ready is True or not load.find("ready"):
        raise RuntimeError("loadgen failed: " + load.text())
    t_ready = int(t_ready[1].split()[1]) / 1e6
    while time.monotonic() < t_ready + warmup:
        time.sleep(0.01)
    t1, c1 = time.monotonic(), [cpu_seconds(p) for p in pids]
    while time.monotonic() < t_ready + warmup + seconds:
        time.sleep(0.01)
    t2, c2 = time.monotonic(), [cpu_seconds(p) for p in pids]
    # Progress lines arrive every 100 ms: give the last one time to land.
    time.sleep(0.15)
    sent = loadgen_progress(load, t2) - loadgen_progress(load, t1)
    return {"wall": t2 - t1, "cpu": [b - a for a, b in zip(c1, c2)], "messages": sent,
            "ready": t_ready}


def ingest_step(m, decode_floor=False, seconds=None):
    """One step: the monitor and the bare SUB loop (and, for attribution, a
    SUB loop that also decodes) receive the same messages at the same time,
    so noise from the shared machine hits them alike. seconds: the measured
    window (BENCH_INGEST_SECONDS by default)."""
    svc, warm = CFG["ingest_services"], CFG["ingest_warmup"]
    secs = seconds or CFG["ingest_seconds"]
    port = free_port()
    db = os.path.join(TMP, "ingest-%d.db" % m)
    monitor = start_monitor(db, port, "ingest-monitor-%d" % m, max_hosts=m + 10)
    floors = []
    kinds = ["bare"] if CFG["ingest_floor"] or decode_floor else []
    for kind in kinds + (["decode"] if decode_floor else []):
        fport = free_port()
        args = [tool("zb-bench-sub"), "--bind", "tcp://127.0.0.1:%d" % fport]
        proc = Proc(args + (["--decode"] if kind == "decode" else []),
                    "ingest-%s-%d" % (kind, m))
        wait_for(lambda: "listening" in proc.text(), 10, "floor sub")
        floors.append((kind, proc, "tcp://127.0.0.1:%d" % fport))
    endpoints = ",".join(["tcp://127.0.0.1:%d" % port] + [f[2] for f in floors])
    watch = MarkerWatch(db)
    load = run_load(endpoints, m, warm + secs + 1, ["--marker-ms", "500"],
                    name="load-%d%s" % (m, "-attrib" if decode_floor else ""))
    # The window opens once every host has joined and the warm-up passed.
    warm = warm + ramp_s(m)
    w = measure_window(load, [monitor.pid] + [f[1].pid for f in floors], warm, secs)
    load.p.wait(120)
    load.stop()
    done = load.find("done")[1]
    sent = int(re.search(r"sent=(\d+)", done).group(1))
    late = int(re.search(r"late_max_us=(\d+)", done).group(1)) / 1e6
    markers = loadgen_markers(load)
    last = "m%d" % (len(markers) - 1)
    try:
        wait_for(lambda: last in watch.seen, 30, "last marker committed")
    except RuntimeError:
        pass
    watch.close()
    rss = rss_kib(monitor.pid)
    monitor.stop()
    cnt = monitor_counters(monitor)
    received = {}
    for kind, proc, _ in floors:
        proc.stop()
        received[kind] = int(re.search(r"messages=(\d+)", proc.text()).group(1))
    lags = [watch.seen[k] - t for k, t in markers.items()
            if k in watch.seen and t >= w["ready"] + warm]
    end_lag = watch.seen[last] - markers[last] if last in watch.seen else float("inf")
    max_lag = max(lags + [end_lag])
    p50_lag = pct(lags, 50) if lags else end_lag
    # Falling behind: anything lost, or a backlog that does not drain (the
    # typical marker, or the one after the last beat, over one beat
    # interval late). Spikes of the maximum are reported, not judged: on a
    # shared machine they follow the neighbours' load.
    keeps_up = (cnt.get("seq_gaps", 1) == 0 and cnt.get("dropped", 1) == 0
                and cnt.get("messages", 0) >= sent and p50_lag < 1.0 and end_lag < 1.0)
    rate = w["messages"] / w["wall"]
    per_cpu = [w["messages"] / c if c > 0 else float("inf") for c in w["cpu"]]
    step = dict(agents=m, msg_rate=rate, beat_rate=rate * svc,
                monitor_cpu=w["cpu"][0] / w["wall"], monitor_msgs_per_cpu_s=per_cpu[0],
                floor_cpu=w["cpu"][1] / w["wall"] if floors else None,
                floor_msgs_per_cpu_s=per_cpu[1] if floors else None,
                us_per_msg={k: 1e6 / v for k, v in zip(["monitor"] + [f[0] for f in floors],
                                                        per_cpu)},
                floor_received=received, counters=cnt, sent=sent, max_lag=max_lag,
                p50_lag=p50_lag, lags=[round(x, 4) for x in lags],
                end_lag=end_lag, loadgen_late_max=late, keeps_up=keeps_up, monitor_rss_kib=rss,
                rss_per_host=rss * 1024.0 / m, heard_rows=cnt.get("heard_rows", 0),
                heard_us=cnt.get("heard_us", 0), heard_us_max=cnt.get("heard_us_max", 0),
                thin=cnt.get("thin", 0))
    log("  M=%d: %.0f msg/s = %.0f beats/s; CPU us/msg %s; monitor %.0f%% of a core; "
        "gaps %s dropped %s (input %s) processed %s/%d, floor received %s; lag p50 %.0f max %.0f "
        "end %.0f ms; loadgen late max %.0f ms; RSS %.0f MiB (%.0f B/host); last-heard %d rows, "
        "longest batch %.0f ms -> %s" % (
            m, rate, rate * svc, {k: round(v, 1) for k, v in step["us_per_msg"].items()},
            100 * step["monitor_cpu"], cnt.get("seq_gaps"), cnt.get("dropped"),
            cnt.get("input_dropped"), cnt.get("messages"), sent, received, p50_lag * 1000, max_lag * 1000, end_lag * 1000,
            late * 1000, rss / 1024.0, step["rss_per_host"], step["heard_rows"],
            step["heard_us_max"] / 1000.0,
            "keeps up" if keeps_up else "FALLS BEHIND"))
    return step


def bench_ingest():
    svc = CFG["ingest_services"]
    log("item 3: monitor ingest, agents %s x %d services, %d s windows" % (
        CFG["ingest_agents"], svc, CFG["ingest_seconds"]))
    steps = []
    best = None
    for m in CFG["ingest_agents"]:
        step = ingest_step(m)
        steps.append(step)
        if step["keeps_up"]:
            best = step
        else:
            break

    if best:
        result("3 ingest", "sustained, M=%d agents x %d services" % (best["agents"], svc),
               "%.0f beats/s (%.0f msg/s), monitor at %.0f%% of a core" % (
                   best["beat_rate"], best["msg_rate"], 100 * best["monitor_cpu"]),
               None, None, ">= 100,000 beats/s", best["beat_rate"] >= 100000,
               "no gaps, no drops; marker lag p50 %.0f ms, max %.0f ms; full beat every %d" % (
                   best["p50_lag"] * 1000, best["max_lag"] * 1000, CFG["ingest_full_every"]))
        result("3 ingest", "monitor RSS per host at M=%d" % best["agents"],
               "%.0f B" % best["rss_per_host"], None, None, "", None,
               "RSS %.0f MiB / %d hosts x %d services" % (
                   best["monitor_rss_kib"] / 1024.0, best["agents"], svc))
        cap_beats = best["monitor_msgs_per_cpu_s"] * svc
        result("3 ingest", "capacity on one core (beats per CPU-second)",
               "%.0f beats/s" % cap_beats, None, None, ">= 100,000 beats/s", cap_beats >= 100000,
               "at M=%d: messages / monitor CPU time" % best["agents"])
        ratio = (best["monitor_msgs_per_cpu_s"] / best["floor_msgs_per_cpu_s"]
                 if best["floor_msgs_per_cpu_s"] else None)
        if ratio is not None:
            result("3 ingest", "monitor vs bare SUB, same messages at the same time",
                   "%.0f msg/CPU-s" % best["monitor_msgs_per_cpu_s"],
                   "%.0f msg/CPU-s" % best["floor_msgs_per_cpu_s"], "%.0f%%" % (100 * ratio),
                   ">= 25% of the floor", ratio >= 0.25)
    if steps and not steps[-1]["keeps_up"]:
        s = steps[-1]
        result("3 ingest", "first step that falls behind: M=%d" % s["agents"],
               "%.0f beats/s offered" % s["beat_rate"], None, None, "", None,
               "gaps %s, dropped %s (input %s), processed %s of %d, lag p50 %.0f ms, end %.0f ms" % (
                   s["counters"].get("seq_gaps"), s["counters"].get("dropped"),
                   s["counters"].get("input_dropped"), s["counters"].get("messages"), s["sent"], s["p50_lag"] * 1000,
                   s["end_lag"] * 1000))
    attrib = None
    if CFG["ingest_attrib"] and best:
        log("item 3: where the monitor's time goes (bare SUB / SUB + zb_msg_decode / monitor)")
        attrib = ingest_step(min(2000, best["agents"]), decode_floor=True)
        u = attrib["us_per_msg"]
        result("3 ingest", "CPU per message: bare SUB / + zb_msg_decode / monitor",
               "%.0f / %.0f / %.0f us" % (u["bare"], u["decode"], u["monitor"]), None, None,
               "", None, "M=%d; decoding is %.0f%% of the monitor's cost" % (
                   attrib["agents"], 100 * (u["decode"] - u["bare"]) / u["monitor"]))
    heard = None
    if CFG["heard_agents"]:
        n = CFG["heard_agents"]
        # A host's first checkpoint is due ZB_MONITOR_HEARD_MS after it
        # joined, and batches write at most twice the fleet's share a tick:
        # the hosts that joined together are all written within half that
        # age more. A window of 1.5 times the age has every host's first
        # checkpoint in it; the 15 s run before had none (0 rows in 0 ms).
        heard_s = monitor_define("ZB_MONITOR_HEARD_MS") / 1000.0
        secs = max(CFG["ingest_seconds"], int(math.ceil(1.5 * heard_s)))
        log("item 3c: the hosts' last-heard checkpoint at %d hosts, %d s (checkpoints %.0f s "
            "apart)" % (n, secs, heard_s))
        heard = ingest_step(n, seconds=secs)
        run_s = CFG["ingest_warmup"] + secs + 1 + ramp_s(n)  # as run_load runs it
        result("3 ingest", "last-heard checkpoint, %d hosts" % n,
               "longest batch %.1f ms" % (heard["heard_us_max"] / 1000.0), None, None, "", None,
               "%d rows in %.0f ms over a %.0f s run (%.1f%% of a core)" % (
                   heard["heard_rows"], heard["heard_us"] / 1000.0, run_s,
                   100.0 * heard["heard_us"] / 1e6 / run_s))
    burst = bench_burst()
    storm = bench_storm() if CFG["storm_agents"] else None
    return {"steps": steps, "attribution": attrib, "burst": burst, "heard": heard,
            "storm": storm}


def bench_storm():
    """10% of the hosts go silent at once: each must be flagged silent
    within liveness x its interval (+ 1 s) of its last beat, and committed."""
    n = CFG["storm_agents"]
    liveness, interval = 5, 1.0  # the monitor's default liveness, 1 s beats
    log("item 3s: storm, %d hosts, every 10th goes silent at once" % n)
    port = free_port()
    db = os.path.join(TMP, "storm.db")
    monitor = start_monitor(db, port, "storm-monitor", max_hosts=n + 10)
    ramp = ramp_s(n)
    at = ramp + CFG["ingest_warmup"] + 4
    load = run_load("tcp://127.0.0.1:%d" % port, n, int(at + liveness + 10),
                    ["--silence-at-ms", str(int(at * 1000)), "--silence-every", "10"],
                    name="load-storm")
    t_sil = wait_for(lambda: load.find("silence") or not load.alive(), at + 60, "silence")
    if t_sil is True:
        raise RuntimeError("loadgen: " + load.text())
    _, s_us, count = t_sil[1].split()
    s_at, count = int(s_us) / 1e6, int(count)
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, isolation_level=None)

    def flagged():
        try:
            c = conn.execute("SELECT count(*) FROM outages WHERE kind = 'host' AND "
                             "ended_at_ms IS NULL").fetchone()[0]
        except sqlite3.Error:
            return None
        return time.monotonic() if c >= count else None
    try:
        t_all = wait_for(flagged, liveness * interval + 60, "%d silent hosts committed" % count,
                         step=0.01)
    except RuntimeError:
        t_all = None
    extra = conn.execute("SELECT count(*) FROM outages WHERE kind = 'host'").fetchone()[0]
    load.p.wait(120)
    load.stop()
    rss = rss_kib(monitor.pid)
    monitor.stop()
    cnt = monitor_counters(monitor)
    # Each silenced host last beat within the interval before the silence
    # began: its deadline is at most liveness x interval after that.
    took = (t_all - s_at) if t_all else float("inf")
    limit = liveness * interval + 1.0
    result("3 storm", "%d of %d hosts silent at once -> all flagged and committed" % (count, n),
           "%.2f s" % took, None, None, "<= liveness x interval + 1 s = %.0f s" % limit,
           took <= limit, "host outages in all %d (none false: %s); gaps %s; RSS %.0f MiB" % (
               extra, "yes" if extra == count else "NO", cnt.get("seq_gaps"), rss / 1024.0))
    return {"hosts": n, "silenced": count, "took": took, "host_outages": extra,
            "counters": cnt}


def bench_burst():
    n = CFG["burst_services"]
    svc = CFG["ingest_services"]
    agents = max(1, n // svc)
    log("item 3b: burst, %d agents x %d services go down at once" % (agents, svc))
    port = free_port()
    db = os.path.join(TMP, "burst.db")
    monitor = start_monitor(db, port, "burst-monitor")
    load = run_load("tcp://127.0.0.1:%d" % port, agents, 12, ["--burst-at-ms", "4000"],
                    name="load-burst")
    t_burst = wait_for(lambda: load.find("burst") or not load.alive(), 30, "burst sent")
    if t_burst is True:
        raise RuntimeError("loadgen: " + load.text())
    _, b_start, b_end, _ = t_burst[1].split()
    b_start, b_end = int(b_start) / 1e6, int(b_end) / 1e6
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, isolation_level=None)
    total = agents * svc

    def all_open():
        c = conn.execute("SELECT count(*) FROM outages WHERE kind = 'service' AND "
                         "ended_at_ms IS NULL").fetchone()[0]
        return time.monotonic() if c >= total else None
    t_all = wait_for(all_open, 60, "%d outages committed" % total, step=0.002)
    load.p.wait(60)
    load.stop()
    monitor.stop()
    cnt = monitor_counters(monitor)
    # Reference: the same number of rows in one transaction from Python.
    ref = sqlite3.connect(os.path.join(TMP, "burst-floor.db"), isolation_level=None)
    ref.execute("PRAGMA journal_mode = WAL")
    ref.execute("PRAGMA synchronous = NORMAL")
    ref.execute("CREATE TABLE o (id INTEGER PRIMARY KEY, host TEXT, service TEXT, "
                "started_at_ms INTEGER, ended_at_ms INTEGER)")
    ref.execute("CREATE INDEX o_h ON o (host, started_at_ms)")
    t = time.perf_counter()
    ref.execute("BEGIN")
    ref.executemany("INSERT INTO o (host, service, started_at_ms) VALUES (?, ?, ?)",
                    [("h%d" % (i // svc), "s%d" % (i % svc), i) for i in range(total)])
    ref.execute("COMMIT")
    t_ref = time.perf_counter() - t
    result("3 burst", "%d services down at once -> all committed" % total,
           ms(t_all - b_start), ms(t_ref), "%.1fx" % ((t_all - b_start) / t_ref), "report",
           None, "sending the burst took %s; floor = %d rows in one transaction; gaps %s" % (
               ms(b_end - b_start), total, cnt.get("seq_gaps")))
    return {"services": total, "commit_s": t_all - b_start, "send_s": b_end - b_start,
            "floor_s": t_ref, "counters": cnt}


# --------------------------------------------------------------------------
# Item 4: agent scale

SCALE_HEAD = """agent
    name = {name}
    monitor = {monitor}
    beat = 1s
"""
SCALE_SVC = """    s{i:05d}
        probe = 127.0.0.1:{port}
        send = "PING\\r\\n"
        expect = "+PONG"
        interval = 1s
"""


def scale_cfg(name, monitor, port, count):
    text = SCALE_HEAD.format(name=name, monitor=monitor)
    if count:
        text += "service\n" + "".join(SCALE_SVC.format(i=i, port=port) for i in range(count))
    return text


def server_stats(server):
    n = len(server.lines)
    server.send(signal.SIGUSR1)
    t, line = wait_for(lambda: server.find("stats", n), 5, "server stats")
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def bench_scale():
    total, per = CFG["scale_services"], CFG["scale_per_agent"]
    counts = [per] * (total // per) + ([total % per] if total % per else [])
    log("item 4: agent scale, %d services in %d agent(s) %s, %d s window" % (
        total, len(counts), counts, CFG["scale_seconds"]))
    server = Proc([tool("zb-bench-server")], "scale-server", lines=True)
    t, line = wait_for(lambda: server.find("port"), 10, "server port")
    port = int(line.split()[1])
    sink = Proc([tool("zb-bench-sub"), "--bind", "tcp://127.0.0.1:%d" % free_port()], "scale-sink")
    wait_for(lambda: "listening" in sink.text(), 10, "sink")
    endpoint = sink.text().split()[1]
    base = start_agent(scale_cfg("base", endpoint, port, 0), "scale-agent-0")
    t_start = time.monotonic()
    agents = [start_agent(scale_cfg("scale-%d" % i, endpoint, port, c), "scale-agent-%d" % (i + 1))
              for i, c in enumerate(counts)]
    wait_for(lambda: server_stats(server)["conns"] >= total or
             not all(a.alive() for a in agents), 120, "%d connections" % total, step=0.5)
    if not all(a.alive() for a in agents):
        raise RuntimeError("agent died: " + "".join(a.text()[-2000:] for a in agents))
    t_conn = time.monotonic()
    time.sleep(5)  # every probe through a few cycles
    s1, t1 = server_stats(server), time.monotonic()
    c1 = [cpu_seconds(a.pid) for a in agents]
    time.sleep(CFG["scale_seconds"])
    s2, t2 = server_stats(server), time.monotonic()
    c2 = [cpu_seconds(a.pid) for a in agents]
    rss = [rss_kib(a.pid) for a in agents]
    hwm = [rss_kib(a.pid, "VmHWM") for a in agents]
    rss0 = rss_kib(base.pid)
    wall = t2 - t1
    cpu = sum(b - a for a, b in zip(c1, c2))
    checks = s2["lines"] - s1["lines"]
    reconnects = s2["accepts"] - s1["accepts"]
    per_svc = (sum(rss) - len(agents) * rss0) * 1024.0 / total
    per_svc_hwm = (sum(hwm) - len(agents) * rss0) * 1024.0 / total
    for a in agents + [base]:
        a.stop()
    sink.stop()
    server.stop()
    cpu_pct = 100 * cpu / wall
    result("4 scale", "agent CPU, %d probes at 1 s (%d agent(s))" % (total, len(agents)),
           "%.1f%% of one core" % cpu_pct, None, None, "<= 25% of one core", cpu_pct <= 25,
           "%.0f checks/s answered; %d reconnects in window; all connected %.1f s after start" % (
               checks / wall, reconnects, t_conn - t_start))
    result("4 scale", "agent memory per service (RSS - RSS of a 0-service agent)",
           "%.0f B (peak %.0f B)" % (per_svc, per_svc_hwm), "%d KiB base" % rss0, None,
           "<= 1 KiB per service", per_svc <= 1024,
           "RSS %s KiB" % "+".join(str(r) for r in rss))
    zb_cpu_check = cpu / checks if checks else float("inf")
    out = {"services": total, "agents": counts, "cpu_pct": cpu_pct, "checks_per_s": checks / wall,
           "rss_kib": rss, "hwm_kib": hwm, "rss0_kib": rss0, "bytes_per_service": per_svc,
           "cpu_per_check_us": zb_cpu_check * 1e6}
    if have_monit():
        out["monit"] = bench_monit_scale(zb_cpu_check)
    else:
        result("4 scale", "zbeat CPU per check", "%.1f us" % (zb_cpu_check * 1e6))
    return out


def bench_monit_scale(zb_cpu_check):
    n = CFG["monit_ports"]
    log("item 4b: monit checking %d ports, %d s window" % (n, CFG["monit_seconds"]))
    server = Proc([tool("zb-bench-server"), "--ports", str(n)], "monit-server", lines=True)
    wait_for(lambda: server.find("ready"), 20, "server ready")
    ports = [int(line.split()[1]) for _, line in server.lines if line.startswith("port ")]
    monit, mlog = start_monit("scale-monit", [("p%04d" % i, p) for i, p in enumerate(ports)])
    # monit checks one port after the other, each taking >= 200 ms (see
    # docs/benchmarks.md): wait for its first checks, not a full cycle.
    wait_for(lambda: server_stats(server)["lines"] >= 3, 60, "monit's first checks", step=0.5)
    s1, t1, c1 = server_stats(server), time.monotonic(), cpu_seconds(monit.pid)
    time.sleep(CFG["monit_seconds"])
    s2, t2, c2 = server_stats(server), time.monotonic(), cpu_seconds(monit.pid)
    monit.stop()
    server.stop()
    checks = s2["lines"] - s1["lines"]
    cpu = c2 - c1
    per = cpu / checks if checks else float("inf")
    result("4 scale", "CPU per check: monit (%d ports) vs zbeat" % n, "monit %.1f us" % (per * 1e6),
           "zbeat %.1f us" % (zb_cpu_check * 1e6), "%.1fx" % (per / zb_cpu_check), "report", None,
           "monit: %.1f checks/s at %.2f%% CPU (connect+send+expect+close per check): one "
           "cycle over %d ports takes %.0f s, not 1 s" % (
               checks / (t2 - t1), 100 * cpu / (t2 - t1), n, n / max(checks / (t2 - t1), 1e-9)))
    return {"ports": n, "checks_per_s": checks / (t2 - t1), "cpu_pct": 100 * cpu / (t2 - t1),
            "cpu_per_check_us": per * 1e6}



# --------------------------------------------------------------------------
# Items 1t and 4t: through TLS and HTTP keep-alive (issue 16), against nginx
# (one process, master_process off, so SIGKILL takes the listener along).
# BENCH_ONLY=1t or 4t runs one alone; they are not in the default set.

NGINX_BENCH = """daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 19000;
pid {dir}/nginx.pid;
error_log {dir}/error.log crit;
events {{ worker_connections 18000; }}
http {{
    log_format tiny 'x';
    access_log {access};
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{tls} ssl backlog=8192;
        listen 127.0.0.1:{plain} backlog=8192;
        ssl_protocols {protocols};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


class Nginx:
    """nginx serving TLS and plain HTTP on two free ports, from a cert made here."""

    def __init__(self, name, access_log=False):
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir, exist_ok=True)
        self.cert, self.key = os.path.join(self.dir, "c.pem"), os.path.join(self.dir, "k.pem")
        subprocess.run([tool_path("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key, "-out",
                        self.cert, "-days", "30", "-subj", "/CN=localhost"], check=True,
                       capture_output=True)
        self.tls, self.plain = free_port(), free_port()
        self.access = os.path.join(self.dir, "access.log")
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_BENCH.format(
                dir=self.dir, tls=self.tls, plain=self.plain, cert=self.cert, key=self.key,
                protocols=CFG["tls_protocols"],
                access=("%s tiny buffer=64k flush=1s" % self.access) if access_log else "off"))
        self.name = name
        self.runs = 0
        self.proc = None
        self.start()

    def start(self):
        self.runs += 1
        self.proc = Proc([tool_path("nginx"), "-c", self.conf, "-p", self.dir],
                         "%s-%d" % (self.name, self.runs))
        wait_for(lambda: port_open(self.tls) and port_open(self.plain), 10, "nginx listening")

    def requests(self):
        try:
            return os.path.getsize(self.access)  # one byte per request ('x' and a newline: 2)
        except OSError:
            return 0


def tool_path(name):
    path = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not path:
        raise RuntimeError("%s is not installed" % name)
    return path


class FloorHttp(FloorClient):
    """The floor: a bare TCP client with one request answered on a kept-alive
    connection to nginx, timing the EOF."""

    def greet(self):
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: floor\r\n\r\n")
        data = b""
        while not data.endswith(b"ok\n"):
            data += self.sock.recv(4096)


def bench_tls_detection():
    log("item 1t: crash detection through TLS and HTTP keep-alive (%d kills each)" %
        CFG["tls_kills"])
    out = {}
    floor_db = commit_floor(os.path.join(TMP, "floor-tls.db"))
    for mode in ("https", "http"):
        nginx = Nginx("det-nginx-" + mode)
        sub = Sub()
        keys = ("        check = https\n        tls-verify = no\n" if mode == "https" else
                "        http = GET /\n")
        port = nginx.tls if mode == "https" else nginx.plain
        cfg = ("agent\n    name = bench\n    monitor = %s\n    beat = 1s\nservice\n    web\n"
               "        probe = 127.0.0.1:%d\n%s        interval = 1s\n        timeout = 500ms\n"
               "        fails = 1\n" % (sub.endpoint, port, keys))
        agent = start_agent(cfg, "det-agent-" + mode)
        floor = FloorHttp(nginx.plain)
        ev, fl, fl_db, missed = [], [], [], []
        for i in range(CFG["tls_kills"]):
            wait_for(lambda: sub.state("web") == "up", 30, "web up before kill %d" % i, step=0.01)
            floor.arm()
            time.sleep(random.uniform(0.05, 0.5))
            start = len(sub.msgs)
            t0 = time.monotonic()
            os.kill(nginx.proc.pid, signal.SIGKILL)
            commit = floor_db()
            floor.thread.join(5)
            t_ev = wait_for(lambda: sub.event_after(t0, "web", "down", start) or
                            time.monotonic() > t0 + 5, 6, "down event")
            if t_ev is True or floor.eof is None:
                missed.append(i)
            else:
                ev.append(t_ev - t0)
                fl.append(floor.eof - t0)
                fl_db.append(floor.eof - t0 + commit)
            nginx.proc.stop(signal.SIGKILL)
            nginx.start()
        if ev:
            fp99 = pct(fl_db, 99)
            result("1t crash", "%s keep-alive: kill -> down event, p50" % mode, ms(pct(ev, 50)),
                   ms(pct(fl_db, 50)), "%.1fx" % (pct(ev, 50) / pct(fl_db, 50)))
            result("1t crash", "%s keep-alive: kill -> down event, p99" % mode, ms(pct(ev, 99)),
                   ms(fp99), "%.1fx" % (pct(ev, 99) / fp99), "p99 <= 3x floor",
                   pct(ev, 99) <= 3 * fp99,
                   "floor = bare TCP client EOF on a kept-alive HTTP connection + one SQLite "
                   "commit; n=%d, missed %d" % (len(ev), len(missed)))
        out[mode] = {"event": ev, "floor_eof": fl, "floor": fl_db, "missed": missed}
        sub.close()
        agent.stop()
        nginx.proc.stop(signal.SIGKILL)
    return out


def bench_tls_scale():
    total = CFG["tls_scale_services"]
    per = min(CFG["scale_per_agent"], 5000)
    counts = [per] * (total // per) + ([total % per] if total % per else [])
    log("item 4t: agent scale, %d check = https probes (TLS held, GET every 1 s) in %d agent(s), "
        "%d s window" % (total, len(counts), CFG["tls_scale_seconds"]))
    nginx = Nginx("scale-nginx", access_log=True)
    sink = Proc([tool("zb-bench-sub"), "--bind", "tcp://127.0.0.1:%d" % free_port()], "tls-sink")
    wait_for(lambda: "listening" in sink.text(), 10, "sink")
    endpoint = sink.text().split()[1]
    svc = ("    s{i:05d}\n        probe = 127.0.0.1:%d\n        check = https\n"
           "        tls-verify = no\n        interval = 1s\n" % nginx.tls +
           "".join("        %s\n" % k.strip() for k in CFG["tls_scale_keys"].split(",")
                   if k.strip()))
    base = start_agent(scale_cfg("base", endpoint, 1, 0), "tls-agent-0")

    def established():
        r = subprocess.run(["ss", "-Htn", "state", "established", "dst",
                            "127.0.0.1:%d" % nginx.tls], capture_output=True, text=True)
        return len(r.stdout.splitlines())
    # One agent after the other, each once the one before holds all its
    # connections: nginx's one worker takes 10,000 handshakes asked for at
    # once too slowly on a machine with costly system calls (its listen
    # queue overflows, and the probes' 500 ms connect timeouts retry in a
    # storm that never settles), and what is measured is the held state.
    t_start = time.monotonic()
    agents = []
    for i, c in enumerate(counts):
        text = SCALE_HEAD.format(name="tls-%d" % i, monitor=endpoint) + "service\n" + "".join(
            svc.format(i=k) for k in range(c))
        agents.append(start_agent(text, "tls-agent-%d" % (i + 1)))
        want = sum(counts[:i + 1])
        wait_for(lambda: established() >= want or not all(a.alive() for a in agents), 180,
                 "%d TLS connections" % want, step=1)
        if not all(a.alive() for a in agents):
            raise RuntimeError("agent died: " + "".join(a.text()[-2000:] for a in agents))
    t_conn = time.monotonic()
    time.sleep(5)
    r1, t1 = nginx.requests(), time.monotonic()
    c1 = [cpu_seconds(a.pid) for a in agents]
    n1 = cpu_seconds(nginx.proc.pid)
    time.sleep(CFG["tls_scale_seconds"])
    r2, t2 = nginx.requests(), time.monotonic()
    c2 = [cpu_seconds(a.pid) for a in agents]
    n2 = cpu_seconds(nginx.proc.pid)
    conns = established()
    rss = [rss_kib(a.pid) for a in agents]
    hwm = [rss_kib(a.pid, "VmHWM") for a in agents]
    rss0 = rss_kib(base.pid)
    wall = t2 - t1
    cpu = sum(b - a for a, b in zip(c1, c2))
    reqs = (r2 - r1) / 2.0
    per_svc = (sum(rss) - len(agents) * rss0) * 1024.0 / total
    per_svc_hwm = (sum(hwm) - len(agents) * rss0) * 1024.0 / total
    for a in agents + [base]:
        a.stop()
    sink.stop()
    nginx.proc.stop()
    cpu_pct = 100 * cpu / wall
    result("4t scale", "agent CPU, %d https probes at 1 s (%d agent(s))" % (total, len(agents)),
           "%.1f%% of one core" % cpu_pct, None, None, "<= 25% of one core", cpu_pct <= 25,
           "%.0f requests/s answered by nginx (itself %.0f%% of a core); %d connections at the "
           "end; all connected %.1f s after start (agents started one after another)" % (reqs / wall, 100 * (n2 - n1) / wall, conns,
                                                      t_conn - t_start))
    result("4t scale", "agent memory per https service (RSS - RSS of a 0-service agent)",
           "%.0f B (peak %.0f B)" % (per_svc, per_svc_hwm), "%d KiB base" % rss0, None,
           "<= 8 KiB per service", per_svc <= 8192, "RSS %s KiB; nginx ssl_protocols %s" %
           ("+".join(str(r) for r in rss), CFG["tls_protocols"]))
    return {"services": total, "agents": counts, "cpu_pct": cpu_pct,
            "requests_per_s": reqs / wall, "rss_kib": rss, "hwm_kib": hwm, "rss0_kib": rss0,
            "bytes_per_service": per_svc, "nginx_cpu_pct": 100 * (n2 - n1) / wall,
            "tls_protocols": CFG["tls_protocols"]}

# --------------------------------------------------------------------------
# Item 5: query cost

DAY = 86400000


def make_db(path, rows):
    """A monitor database with `rows` outages: the last 30 days are the same
    1000 outages whatever the size (host-07 has 10 of them, one open); the
    rest is older history spread over 31..400 days ago, across 100 hosts."""
    port = free_port()
    monitor = start_monitor(path, port, "query-monitor-%d" % rows)
    monitor.stop()
    now = int(time.time() * 1000)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    recent = min(1000, rows)
    conn.executemany(
        "INSERT INTO outages (kind, host, service, started_at_ms, ended_at_ms, reason, error, "
        "end_reason, instance) VALUES ('service', ?, ?, ?, ?, 'refused', "
        "'connect: Connection refused', ?, '0123456789abcdef')",
        [("host-%02d" % (i % 100), "svc-%d" % ((i // 100) % 20), now - 60000 - i * (29 * DAY // 1000),
          None if i < 10 else now - i * (29 * DAY // 1000), None if i < 10 else "up")
         for i in range(recent)])
    old = rows - recent
    if old > 0:
        conn.execute(
            "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?1 - 1) "
            "INSERT INTO outages (kind, host, service, started_at_ms, ended_at_ms, reason, error, "
            "end_reason, instance) SELECT 'service', printf('host-%02d', i % 100), "
            "printf('svc-%d', (i / 100) % 20), ?2 - 31 * ?3 - i * (369 * ?3 / ?1), "
            "?2 - 31 * ?3 - i * (369 * ?3 / ?1) + 1000 + (i % 3600) * 1000, 'refused', "
            "'connect: Connection refused', 'up', '0123456789abcdef' FROM c",
            (old, now, DAY))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def bench_query():
    sizes = CFG["query_rows"]
    runs = CFG["query_runs"]
    log("item 5: query cost on %s outages, %d runs each" % (sizes, runs))
    dbs = {}
    for n in sizes:
        path = os.path.join(TMP, "query-%d.db" % n)
        t = time.monotonic()
        make_db(path, n)
        log("  generated %d outages in %.1f s" % (n, time.monotonic() - t))
        dbs[n] = path
    cli = tool("zbeat")
    args = ["outages", "--host", "host-07", "--since", "30d", "--json"]
    times = {n: [] for n in sizes}
    counts = {}
    for n in sizes:  # warm the page cache once
        out = subprocess.run([cli, "--db", dbs[n]] + args, capture_output=True, check=True)
        counts[n] = len(json.loads(out.stdout))
    for _ in range(runs):  # interleaved, so machine noise hits both alike
        for n in sizes:
            t = time.perf_counter()
            subprocess.run([cli, "--db", dbs[n]] + args, stdout=subprocess.DEVNULL, check=True)
            times[n].append(time.perf_counter() - t)
    plan = subprocess.run([cli, "--db", dbs[sizes[-1]]] + args[:-1] + ["--explain"],
                          capture_output=True, text=True).stdout.strip()
    small, big = sizes[0], sizes[-1]
    m_small, m_big = statistics.median(times[small]), statistics.median(times[big])
    ratio = m_big / m_small
    result("5 query", "`zbeat outages --host H --since 30d --json`, median of %d" % runs,
           "%d rows: %s" % (big, ms(m_big)), "%d rows: %s" % (small, ms(m_small)),
           "%.2fx" % ratio, "<= 2x", ratio <= 2,
           "same %d results in both; plan: %s" % (counts[big], plan.replace("\n", "; ")))
    return {"sizes": sizes, "median_s": {str(n): statistics.median(times[n]) for n in sizes},
            "p90_s": {str(n): pct(times[n], 90) for n in sizes}, "results": counts, "plan": plan}


# --------------------------------------------------------------------------
# Item 6: lossy links, a fleet (issue 23)
#
# bench/lossy_fleet.py runs as a child: HOSTS agents of each kind (fixed
# threshold; datagrams and the detector) behind shaped links, per loss
# setting a false-silence window and rounds of kills. Its rows become table
# rows through bench/fleet_results.py, next to issue 23's targets.

FLEET = os.path.join(HERE, "lossy_fleet.py")
_PR_SET_PDEATHSIG = 1


def _term_with_parent():
    """lossy_fleet gets SIGTERM when this run dies, however: its cleanup then
    deletes its namespaces and stops its agents."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def fleet_check():
    """A bad BENCH_FLEET_* setting stops the run before it starts (exit 2)."""
    r = subprocess.run([sys.executable, FLEET, "--check"], capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stderr)
        shutil.rmtree(TMP, ignore_errors=True)
        sys.exit(2)


def run_fleet():
    """lossy_fleet.py's output and exit status; its lines logged as they come."""
    lines = []
    p = subprocess.Popen([sys.executable, "-u", FLEET], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, errors="replace",
                         env=dict(os.environ, ZB_BUILD_DIR=BUILD), preexec_fn=_term_with_parent)
    try:
        for line in p.stdout:
            lines.append(line)
            if not line.startswith(("row {", "[")):  # the rows go into the table
                log("  " + line.rstrip())
        return "".join(lines), p.wait()
    finally:
        if p.poll() is None:  # this run is stopping: the child's cleanup takes a while
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(300)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        p.stdout.close()
        with open(os.path.join(TMP, "lossy-fleet.log"), "w") as f:
            f.write("".join(lines))


def bench_fleet():
    source, status = CFG["fleet_from"], None
    if source:
        log("item 6: lossy links, the rows of %s (BENCH_FLEET_FROM), nothing run" % source)
        with open(source, errors="replace") as f:
            text = f.read()
    else:
        sys.path.insert(0, os.path.join(SOURCE, "tests", "faults"))
        try:
            import netns
        except ImportError as e:
            result(fleet_results.ITEM, "lossy links", "skipped",
                   note="tests/faults/netns.py: %s" % e)
            return {"skipped": str(e)}
        ok, why = netns.available()
        if not ok:
            log("item 6 skipped: %s" % why)
            result(fleet_results.ITEM, "lossy links", "skipped", note=why)
            return {"skipped": why}
        log("item 6: lossy links, a fleet (bench/lossy_fleet.py; settings %s)" % (
            json.dumps(CFG["fleet"]) if CFG["fleet"] else "its defaults"))
        text, status = run_fleet()
    rows, complete = fleet_results.parse_output(text)
    for row in fleet_results.result_rows(rows):
        result(**row)
    if status or not complete or not rows:
        last = [x for x in text.splitlines() if x.strip()][-1:] or ["no output"]
        result(fleet_results.ITEM, "bench/lossy_fleet.py", "incomplete", note="%s; %d rows; "
               "last line: %s" % ("exit status %s" % status if status else "no final JSON",
                                  len(rows), last[0][:200]))
    return {"source": source or "run", "exit": status, "complete": complete, "rows": rows}


# --------------------------------------------------------------------------
# Item 6t: a lossy link, tunings of the fixed threshold (issue 11)
#
# The sweep behind docs/benchmarks.md's first lossy-link table and
# operations.md's advice for hosts without datagrams. Every tuning runs at
# the same time in namespaces of its own (a netns.Net
# each): an agent in a host namespace whose link to the monitor namespace is
# shaped (loss, delay +- jitter, both ways: tc netem, or zb-netem where the
# kernel has no sch_netem; tests/faults/netns.py), and a monitor with the
# tuning's liveness. A tuning is BEAT:LIVENESS, plus ":thin" for Linux's
# linear retransmission timeouts on thin TCP streams in both namespaces
# (net.ipv4.tcp_thin_linear_timeouts=1). A control host, default tuning on
# an unshaped path of the same kind, shows what the machine alone does.

LOSSY_AGENT = """agent
    name = {name}
    monitor = tcp://{addr}:{port}
    beat = {beat}
"""


def parse_duration_ms(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text.strip())
    if not m:
        raise ValueError("%r is not a duration like 500ms, 1s, 2m" % text)
    return float(m.group(1)) * {"ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def log_time_ms(line):
    """Wall time (ms) of a zbeat log line, from its RFC 3339 stamp; None if none."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z", line)
    if not m:
        return None
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) * 1000 + int(
        m.group(2))


class LossyHost:
    """One tuning: a shaped host n, its agent and its own monitor, in
    namespaces of their own."""

    def __init__(self, net, n, beat, liveness, thin, shaped):
        self.net, self.n, self.beat, self.liveness = net, n, beat, liveness
        self.thin, self.shaped = thin, shaped
        self.name = "h%d" % n
        self.threshold_ms = parse_duration_ms(beat) * liveness
        self.port = 7500 + n
        self.db = os.path.join(TMP, "lossy-%d.db" % n)
        self.monitor = None
        self.agent = None
        self.agents = []  # every run, for the logs
        self.conn = None

    def label(self):
        return "beat %s, liveness %d (silent after %s)%s%s" % (
            self.beat, self.liveness, "%g s" % (self.threshold_ms / 1000),
            ", thin-stream linear RTO" if self.thin else "",
            "" if self.shaped else ", no loss (control)")

    def start_monitor(self):
        self.monitor = Proc(self.net.exec_args(self.net.mon, [
            tool("zbeat-monitor"), "--db", self.db, "--bind", "tcp://0.0.0.0:%d" % self.port,
            "--liveness", self.liveness]), "lossy-monitor-%d" % self.n)
        wait_for(lambda: "monitor started" in self.monitor.text() or not self.monitor.alive(),
                 20, "monitor %d start" % self.n)
        if not self.monitor.alive():
            raise RuntimeError("monitor died: " + self.monitor.text())
        self.conn = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, isolation_level=None)

    def start_agent(self):
        name = "lossy-agent-%d-%d" % (self.n, len(self.agents))
        path = os.path.join(TMP, name + ".cfg")
        with open(path, "w") as f:
            f.write(LOSSY_AGENT.format(name=self.name, addr=self.net.monitor_addr(self.n),
                                       port=self.port, beat=self.beat))
        self.agent = Proc(self.net.exec_args(self.net.hosts[self.n], [
            tool("zbeat-agent"), "-c", path]), name)
        self.agents.append(self.agent)

    def heard(self):
        row = self.conn.execute("SELECT state, interval_ms FROM hosts WHERE name = ?",
                                (self.name,)).fetchone()
        return row is not None and row[1] > 0 and row[0] == "alive" and not self.silent()

    def silent(self):
        return self.conn.execute(
            "SELECT 1 FROM outages WHERE kind = 'host' AND host = ? AND ended_at_ms IS NULL",
            (self.name,)).fetchone() is not None

    def silences(self, ws, we):
        """Host outages flagged within [ws, we) (wall ms; flagged = last heard +
        threshold) and the silent time inside the window."""
        rows = self.conn.execute(
            "SELECT started_at_ms, ended_at_ms FROM outages WHERE kind = 'host' AND host = ?",
            (self.name,)).fetchall()
        lengths, silent_ms = [], 0
        for start, end in rows:
            end = we if end is None else min(end, we)
            if ws <= start + self.threshold_ms < we:
                lengths.append((end - start) / 1000.0)  # from last heard to heard again
            silent_ms += max(0, end - max(start, ws))
        return lengths, silent_ms


def lossy_tunings():
    """[(beat, liveness, thin)] from BENCH_LOSSY_TUNINGS; exits on a bad one."""
    tunings = []
    for item in CFG["lossy_tunings"].split(","):
        parts = item.strip().split(":")
        try:
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "thin"):
                raise ValueError
            parse_duration_ms(parts[0])
            liveness = int(parts[1])
            if not 1 <= liveness <= 100:
                raise ValueError
        except ValueError:
            shutil.rmtree(TMP, ignore_errors=True)
            sys.exit("bench: BENCH_LOSSY_TUNINGS: %r is not BEAT:LIVENESS[:thin] "
                     "(e.g. 1s:3, 500ms:10:thin; liveness 1 to 100)" % item)
        tunings.append((parts[0], liveness, len(parts) == 3))
    return tunings


def bench_lossy_tunings():
    loss, delay, jitter = CFG["lossy_loss"], CFG["lossy_delay"], CFG["lossy_jitter"]
    tunings = lossy_tunings()
    log("item 6t: lossy link, %g%% loss and %g ms +- %g ms both ways; tunings %s; %d s "
        "window, %d kills" % (loss, delay, jitter, CFG["lossy_tunings"], CFG["lossy_seconds"],
                              CFG["lossy_kills"]))
    sys.path.insert(0, os.path.join(SOURCE, "tests", "faults"))
    try:
        import netns
    except ImportError as e:
        result("6t lossy", "lossy link", "skipped", note="tests/faults/netns.py: %s" % e)
        return {"skipped": str(e)}
    ok, why = netns.available()
    if not ok:
        log("item 6t skipped: %s" % why)
        result("6t lossy", "lossy link", "skipped", note=why)
        return {"skipped": why}
    netem, _ = netns.netem_available()
    hosts = []
    try:
        specs = [(b, l, thin, True) for b, l, thin in tunings]
        if CFG["lossy_control"]:
            specs.append(("1s", 3, False, False))
        for i, (beat, liveness, thin, shaped) in enumerate(specs):
            net = netns.Net(None, tool=tool("zb-netem"), logdir=TMP)
            h = LossyHost(net, i + 1, beat, liveness, thin, shaped)
            hosts.append(h)
            net.host(h.n, shaped=True)
            if thin:
                for ns in (net.mon, net.hosts[h.n]):
                    netns.run("ip", "netns", "exec", ns, "sysctl", "-qw",
                              "net.ipv4.tcp_thin_linear_timeouts=1")
            if shaped:
                net.shape(h.n, loss=loss, delay=delay, jitter=jitter, seed=1000 + h.n)
            h.start_monitor()
            h.start_agent()
        wait_for(lambda: all(h.heard() for h in hosts), 120, "every agent heard", step=0.1)
        before = {h.n: h.net.counts(h.n) for h in hosts}
        ws = int(time.time() * 1000)
        t_ws = time.monotonic()
        log("  every agent heard; window of %d s" % CFG["lossy_seconds"])
        time.sleep(CFG["lossy_seconds"])
        we = int(time.time() * 1000)
        window_s = time.monotonic() - t_ws
        after = {h.n: h.net.counts(h.n) for h in hosts}
        out = {"loss": loss, "delay_ms": delay, "jitter_ms": jitter, "window_s": window_s,
               "shaper": "tc netem" if netem else "zb-netem", "hosts": []}
        for h in hosts:
            lengths, silent_ms = h.silences(ws, we)
            count = len(lengths)
            drops = sum(1 for line in h.agent.text().splitlines()
                        if "monitor unreachable" in line and ws <= (log_time_ms(line) or 0) < we)
            h.window = {"false_silent": count, "per_min": count / (window_s / 60.0),
                        "silent_ms": silent_ms, "unreachable": drops,
                        "unheard_s": sorted(lengths)}
            a, b = before.get(h.n), after.get(h.n)
            if a and b:
                h.window["lost_share"] = [
                    (b["%s_lost" % s] - a["%s_lost" % s]) / max(1, b["%s_in" % s] - a["%s_in" % s])
                    for s in "ab"]
        # Detection: every agent killed at once (each host has its own
        # monitor), at a random moment; the time to the open host outage.
        for h in hosts:
            h.detect = []
        for k in range(CFG["lossy_kills"]):
            wait_for(lambda: all(h.heard() for h in hosts), 120,
                     "every agent heard before kill %d" % k, step=0.1)
            time.sleep(random.uniform(0, 2))
            t0 = {}
            for h in hosts:
                t0[h.n] = time.monotonic()
                h.agent.send(signal.SIGKILL)
            pending = {h.n: h for h in hosts}
            took = {}
            deadline = time.monotonic() + max(h.threshold_ms for h in hosts) / 1000 + 30
            while pending and time.monotonic() < deadline:
                for n, h in list(pending.items()):
                    if h.silent():
                        took[n] = time.monotonic() - t0[n]
                        h.detect.append(took[n])
                        del pending[n]
                time.sleep(0.005)
            for h in hosts:
                h.agent.stop(signal.SIGKILL)
                h.start_agent()
            log("  kill %d/%d: %s" % (k + 1, CFG["lossy_kills"], ", ".join(
                "%s %s" % (h.name, "%.2f s" % took[h.n] if h.n in took else "missed")
                for h in hosts)))
        for h in hosts:
            h.monitor.stop()
            counters = monitor_counters(h.monitor)
            w = h.window
            shares = w.get("lost_share")
            note = "%d false silent in %.0f s%s, silent %.1f%% of the time; %d heartbeat " \
                   "disconnects; messages lost %d of %d (whole run)%s" % (
                       w["false_silent"], window_s,
                       " (unheard for %s s)" % ", ".join("%.1f" % x for x in w["unheard_s"])
                       if w["unheard_s"] else "", 100.0 * w["silent_ms"] / (window_s * 1000),
                       w["unreachable"], counters.get("seq_gaps", 0),
                       counters.get("messages", 0) + counters.get("seq_gaps", 0),
                       "; packets lost host->monitor %.1f%%, monitor->host %.1f%%" % (
                           100 * shares[0], 100 * shares[1]) if shares else "")
            result("6t lossy", "%s: false silent / min" % h.label(), "%.2f" % w["per_min"],
                   target="report", note=note)
            det = h.detect
            result("6t lossy", "%s: agent killed -> host silent, p50 (max), n=%d" % (
                h.label(), len(det)),
                "%.2f s (%.2f s)" % (statistics.median(det), max(det)) if det else "none",
                "%g s" % (h.threshold_ms / 1000), "%.2fx" % (statistics.median(det) /
                                                              (h.threshold_ms / 1000))
                if det else None, "report",
                note="reference: the silence threshold, beat x liveness; missed %d" % (
                    CFG["lossy_kills"] - len(det)))
            out["hosts"].append({"beat": h.beat, "liveness": h.liveness, "thin": h.thin,
                                 "shaped": h.shaped,
                                 "threshold_ms": h.threshold_ms, "window": h.window,
                                 "detect_s": det, "counters": counters})
        return out
    finally:
        for h in hosts:
            for p in h.agents + [h.monitor]:
                if p is not None:
                    p.stop(signal.SIGKILL)
            if h.conn is not None:
                h.conn.close()
            h.net.close()


# --------------------------------------------------------------------------
# Report


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rev = subprocess.run(["git", "-C", SOURCE, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "load_start": os.getloadavg(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                 time.gmtime()),
            "git": rev + (" (with uncommitted changes)" if subprocess.run(
                ["git", "-C", SOURCE, "status", "--porcelain"], capture_output=True,
                text=True).stdout.strip() else "")}


def fmt(v):
    return "" if v is None else str(v)


def report(info, data, elapsed):
    lines = ["# zbeat benchmark results", "",
             "Machine: %d CPU(s), %s, Linux %s; load average %.2f at start, %.2f at end." % (
                 info["nproc"], info["cpu"], info["kernel"], info["load_start"][0],
                 os.getloadavg()[0]),
             "Run: %s, tree %s, %.0f s. Settings: %s" % (info["date"], info["git"], elapsed,
                                                          json.dumps(CFG)), "",
             "| item | metric | value | floor / reference | ratio | target | met |",
             "|---|---|---|---|---|---|---|"]
    for r in RESULTS_ROWS:
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        metric = r["metric"] + (" — " + r["note"] if r["note"] else "")
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["item"], metric.replace("|", "/"), fmt(r["value"]), fmt(r["floor"]),
            fmt(r["ratio"]), r["target"], met))
    text = "\n".join(lines) + "\n"
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump({"machine": info, "config": CFG, "rows": RESULTS_ROWS, "data": data}, f,
                  indent=1, default=str)
    print("\n" + text, flush=True)


def main():
    info = machine()
    log("machine: %d CPUs, %s, load %.2f; work dir %s" % (
        info["nproc"], info["cpu"], info["load_start"][0], TMP))
    items = CFG["items"].split(",")
    # A bad setting stops the run before it starts.
    if "6" in items and CFG["fleet_from"] and not os.path.isfile(CFG["fleet_from"]):
        shutil.rmtree(TMP, ignore_errors=True)
        sys.stderr.write("bench: BENCH_FLEET_FROM: %s is not a file\n" % CFG["fleet_from"])
        sys.exit(2)
    if "6" in items and not CFG["fleet_from"]:
        fleet_check()
    if "6t" in items:
        lossy_tunings()
    data = {}
    t0 = time.monotonic()
    try:
        if "1" in items or "2" in items:
            data["detection"] = bench_detection()
        if "3" in items:
            data["ingest"] = bench_ingest()
        if "4" in items:
            data["scale"] = bench_scale()
        if "1t" in items:
            data["tls_detection"] = bench_tls_detection()
        if "4t" in items:
            data["tls_scale"] = bench_tls_scale()
        if "5" in items:
            data["query"] = bench_query()
        if "6" in items:
            data["lossy_fleet"] = bench_fleet()
        if "6t" in items:
            data["lossy_tunings"] = bench_lossy_tunings()
    finally:
        cleanup()
    report(info, data, time.monotonic() - t0)
    if os.environ.get("BENCH_KEEP"):
        log("kept logs and databases in %s" % TMP)
    else:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        main()
    except KeyboardInterrupt:
        cleanup()
        sys.exit(130)
