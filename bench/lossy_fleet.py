#!/usr/bin/python3
"""Bench item 6 (issue 23): the adaptive detector with liveness datagrams
against the fixed threshold (liveness 5 x beat 1s), side by side on the same
kind of shaped links.

    BENCH_ONLY=6 bench/run.sh           (root: network namespaces; the
                                         rows go into bench/results/latest.md)
    ZB_BUILD_DIR=build bench/lossy_fleet.py          (alone: the lines below)
    bench/lossy_fleet.py --check        (checks the settings, exit 2 if bad)

Every agent has no services and a host name of its own: "fixed" agents
publish to a monitor with the defaults and no datagrams; "udp" agents to a
second monitor with monitor/udp, sending datagrams every 250 ms. With
BENCH_FLEET_LINKS=own (the default when HOSTS x kinds <= 254) every agent
sits in a host namespace of its own behind a link of its own, as issue 23
describes (netns.Net's host(n, shaped=True): on a kernel without sch_netem a
router namespace and one zb-netem per host, so 2 x HOSTS zb-netem processes
for both kinds), the monitor reaching host n at 10.251.n.1. Host numbers are
per kind in BENCH_FLEET_KINDS order (the first kind 1..HOSTS, the next
HOSTS+1..2 HOSTS), hence the 254. With BENCH_FLEET_LINKS=shared one host
namespace behind one shaped link holds them all: every packet's loss and
delay is still drawn on its own, but they share a queue, as hosts behind one
bad uplink do. For each setting (clean; 10% and 30% loss with 100 +- 100 ms,
both ways) it counts false silent hosts over a window (host-hours = HOSTS x
window), then kills KILLS agents of each kind at random moments, ROUNDS
times, and times kill -> host outage in the database.

Environment: BENCH_FLEET_HOSTS (40 per kind), BENCH_FLEET_SECONDS (120 per
setting; a comma list gives one per setting of BENCH_FLEET_LOSSES),
BENCH_FLEET_KILLS (10 per round), BENCH_FLEET_ROUNDS (3), BENCH_FLEET_LOSSES
("0,10,30"), BENCH_FLEET_LINKS ("own" or "shared"), BENCH_FLEET_KINDS
("fixed,udp"; "udp" alone runs only the detector's agents). Prints the load
average every BENCH_FLEET_LOAD_EVERY seconds (60), one line per setting and
kind (with the loss the shapers actually drew, the load average over the
window, and the CPU the agents, monitor and shapers of that kind used in it;
on the shared link both kinds' lines give the one shaper's draws and CPU)
followed by the same as "row {json}", and a JSON list of every row at the
end: bench.py reads either (BENCH_FLEET_FROM: a saved output, a killed run's
rows included)."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..")
BUILD = os.environ.get("ZB_BUILD_DIR", os.path.join(SOURCE, "build"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "faults"))
import netns  # noqa: E402
import zbtest  # noqa: E402  (netns put tests/integration on the path)
from bench_proc import cpu_seconds  # noqa: E402

PORTS = {"fixed": (7500, None), "udp": (7501, 7502)}  # ZeroMQ, datagrams


def bad_setting(text):
    sys.stderr.write("bench: %s\n" % text)
    sys.exit(2)


def env_numbers(name, default, kind, one=False):
    """The comma list in $name (default when unset) as kinds, or its one
    number (one=True); exits 2 if bad."""
    text = os.environ.get(name, default)
    try:
        values = [kind(x) for x in text.split(",")]
    except ValueError:
        bad_setting("%s: %r is not %s" % (name, text, "a number" if one else
                                           "a comma list of numbers"))
    if any(v < 0 for v in values) or (one and len(values) != 1):
        bad_setting("%s: %r: %s" % (name, text, "one number, not negative" if one else
                                     "no negative numbers"))
    return values[0] if one else values


HOSTS = env_numbers("BENCH_FLEET_HOSTS", "40", int, one=True)
KILLS = env_numbers("BENCH_FLEET_KILLS", "10", int, one=True)
ROUNDS = env_numbers("BENCH_FLEET_ROUNDS", "3", int, one=True)
LOSSES = env_numbers("BENCH_FLEET_LOSSES", "0,10,30", float)
_SECONDS = env_numbers("BENCH_FLEET_SECONDS", "120", float)
if len(_SECONDS) not in (1, len(LOSSES)):
    bad_setting("BENCH_FLEET_SECONDS: one value, or one per setting of BENCH_FLEET_LOSSES")
SECONDS = dict(zip(LOSSES, _SECONDS * len(LOSSES) if len(_SECONDS) == 1 else _SECONDS))
LOAD_EVERY = env_numbers("BENCH_FLEET_LOAD_EVERY", "60", float, one=True)
KINDS = [x for x in os.environ.get("BENCH_FLEET_KINDS", "fixed,udp").split(",") if x]
if not KINDS or any(k not in PORTS for k in KINDS) or len(set(KINDS)) != len(KINDS):
    bad_setting("BENCH_FLEET_KINDS: 'fixed', 'udp' or both")
if HOSTS < 1 or KILLS > HOSTS or LOAD_EVERY <= 0 or any(x > 100 for x in LOSSES):
    bad_setting("BENCH_FLEET_HOSTS >= 1, BENCH_FLEET_KILLS <= hosts, BENCH_FLEET_LOAD_EVERY "
                "> 0, BENCH_FLEET_LOSSES 0 to 100")
#   Own links number hosts 1..254 (10.251.N.0/24): past that, the default is
#   the shared link, and asking for own links is an error.
OWN_FITS = HOSTS * len(KINDS) <= 254
LINKS = os.environ.get("BENCH_FLEET_LINKS") or ("own" if OWN_FITS else "shared")
if LINKS not in ("shared", "own"):
    bad_setting("BENCH_FLEET_LINKS is 'own' or 'shared'")
if LINKS == "own" and not OWN_FITS:
    bad_setting("BENCH_FLEET_LINKS=own numbers hosts 1..254 (10.251.N.0/24): "
                "BENCH_FLEET_HOSTS x kinds is too many")


def binary(name):
    return os.path.join(BUILD, "bin", name)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def utc():
    return time.strftime("%H:%M:%S", time.gmtime())


class LoadLog(threading.Thread):
    """Prints the load average every LOAD_EVERY seconds; keeps the 1-minute
    figures seen since mark()."""

    def __init__(self):
        super().__init__(daemon=True)
        self.seen = []
        self.stopped = threading.Event()

    def mark(self):
        self.seen = [loadavg()[0]]

    def run(self):
        while not self.stopped.wait(LOAD_EVERY):
            la = loadavg()
            self.seen.append(la[0])
            print("%s load average %.2f %.2f %.2f" % (utc(), la[0], la[1], la[2]), flush=True)


def cpu_seconds_of(pids):
    """CPU time of these processes (their own threads included), s."""
    total = 0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass  # gone: what it used is lost, a small undercount
    return total


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


class Kind:
    """One monitor and its HOSTS agents. base: with BENCH_FLEET_LINKS=own,
    agent i sits in host namespace base + i + 1; else (None) all in host 1."""

    def __init__(self, net, tmp, name, port, udp, base=None):
        self.net, self.tmp, self.name, self.port, self.udp = net, tmp, name, port, udp
        self.base = base
        self.db = os.path.join(tmp, name + ".db")
        cfg = os.path.join(tmp, name + "-monitor.cfg")
        with open(cfg, "w") as f:
            f.write("monitor\n" + ("    udp = 0.0.0.0:%d\n" % udp if udp else ""))
        self.log = open(os.path.join(tmp, name + "-monitor.log"), "w")
        self.monitor = subprocess.Popen(net.exec_args(net.mon, [
            binary("zbeat-monitor"), "--db", self.db, "--bind", "tcp://0.0.0.0:%d" % port,
            "-c", cfg]), stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=zbtest.die_with_parent)
        self.agents = {}
        self.conn = None

    def host(self, i):
        return "%s-%03d" % (self.name, i)

    def link(self, i):
        """The host namespace number agent i sits in."""
        return 1 if self.base is None else self.base + i + 1

    def links(self):
        return sorted({self.link(i) for i in range(HOSTS)})

    def pids(self):
        return [self.monitor.pid] + [p.pid for p in self.agents.values()]

    def start_agent(self, i):
        path = os.path.join(self.tmp, self.host(i) + ".cfg")
        addr = self.net.monitor_addr(self.link(i))
        with open(path, "w") as f:
            f.write("agent\n    name = %s\n    monitor = tcp://%s:%d\n    listen = 127.0.0.1:0\n"
                    % (self.host(i), addr, self.port))
            if self.udp:
                f.write("    udp = %s:%d\n    udp-beat = 250ms\n" % (addr, self.udp))
        log = open(os.path.join(self.tmp, self.host(i) + ".log"), "a")
        self.agents[i] = subprocess.Popen(self.net.exec_args(self.net.hosts[self.link(i)], [
            binary("zbeat-agent"), "-c", path]), stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=zbtest.die_with_parent)
        log.close()

    def query(self, sql, *args):
        if self.conn is None:
            if not os.path.exists(self.db):
                return []
            self.conn = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True,
                                        isolation_level=None, timeout=5)
        return self.conn.execute(sql, args).fetchall()

    def alive(self):
        """Agent numbers of the hosts alive now (no open host outage)."""
        rows = self.query("SELECT name FROM hosts WHERE state = 'alive' AND interval_ms > 0 "
                          "AND name NOT IN (SELECT host FROM outages WHERE kind = 'host' "
                          "AND ended_at_ms IS NULL)")
        names = {r[0] for r in rows}
        return [i for i in range(HOSTS) if self.host(i) in names]

    def all_alive(self):
        return len(self.alive()) >= HOSTS

    def host_outages_since(self, ws):
        return self.query("SELECT host, started_at_ms FROM outages WHERE kind = 'host' "
                          "AND started_at_ms >= ?", ws)

    def open_silent(self, host):
        return bool(self.query("SELECT 1 FROM outages WHERE kind = 'host' AND host = ? AND "
                               "ended_at_ms IS NULL", host))

    def stop(self):
        for p in self.agents.values():
            p.kill()
        self.monitor.send_signal(signal.SIGTERM)
        try:
            self.monitor.wait(30)
        except subprocess.TimeoutExpired:
            self.monitor.kill()


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out: " + what)
        time.sleep(0.2)


NEIGH = "/proc/sys/net/ipv4/neigh/default/gc_thresh%d"


def neigh_room(links):
    """The kernel's ARP table is one for all namespaces (gc_thresh3, 1024 by
    default): each own link holds about four entries (host, router and
    monitor ends), so 250 links overflow it ("neighbor table overflow" in
    dmesg) and packets of every namespace, the bench's and anyone else's,
    are dropped while an entry cannot be made. Raises the thresholds for the
    run when they are too low; returns what to restore."""
    want = {1: 4 * links, 2: 8 * links, 3: 16 * links}
    saved = {}
    for i, value in want.items():
        with open(NEIGH % i) as f:
            now = int(f.read())
        if now < value:
            saved[i] = now
            with open(NEIGH % i, "w") as f:
                f.write(str(value))
    if saved:
        print("%s ARP table thresholds gc_thresh1..3 raised to %s for %d links (restored at "
              "the end)" % (utc(), ",".join(str(want[i]) for i in (1, 2, 3)), links),
              flush=True)
    return saved


def neigh_restore(saved):
    for i, value in saved.items():
        with open(NEIGH % i, "w") as f:
            f.write(str(value))


def main():
    ok, why = netns.available()
    if not ok:
        sys.exit("bench: %s" % why)
    saved = neigh_room(HOSTS * len(KINDS) if LINKS == "own" else 1)
    tmp = tempfile.mkdtemp(prefix="zb-lossy-fleet-")
    net = netns.Net(None, tool=binary("zb-netem"), logdir=tmp)
    results = []
    kinds = []
    loadlog = LoadLog()
    loadlog.start()
    print("%s start: links %s, kinds %s, %d hosts each, logs in %s; load average %s" % (
        utc(), LINKS, ",".join(KINDS), HOSTS, tmp, loadavg()), flush=True)
    try:
        t_setup = time.monotonic()
        for j, name in enumerate(KINDS):
            port, udp = PORTS[name]
            kinds.append(Kind(net, tmp, name, port, udp, j * HOSTS if LINKS == "own" else None))
        links = sorted({n for k in kinds for n in k.links()})
        for n in links:
            net.host(n, shaped=True)
        print("%s %d shaped link(s) made in %.0f s" % (utc(), len(links),
                                                       time.monotonic() - t_setup), flush=True)
        time.sleep(0.5)  # monitors binding: no agent connect is lost for it (ZeroMQ retries)
        for k in kinds:
            for i in range(HOSTS):
                k.start_agent(i)
        for loss in LOSSES:
            delay = 100 if loss else 0
            hows = {net.shape(n, loss=loss, delay=delay, jitter=delay) for n in links}
            how = ",".join(sorted(hows))
            for k in kinds:
                try:
                    wait(k.all_alive, 180, "")
                except RuntimeError:  # flapping (see the rounds below): counted all the same
                    print("%s loss %g%%: %s: %d of %d hosts alive after 180 s, going on" % (
                        utc(), loss, k.name, len(k.alive()), HOSTS), flush=True)
            # The udp monitor's estimates settle (EWMA, ~200 datagrams).
            time.sleep(60)
            ws = int(time.time() * 1000)
            loadlog.mark()
            cpu0 = {k.name: (cpu_seconds_of(k.pids()),
                             cpu_seconds_of([net.shapers[n].proc.pid for n in k.links()
                                          if n in net.shapers])) for k in kinds}
            print("%s loss %g%%: window of %.0f s starts; load average %s" % (
                utc(), loss, SECONDS[loss], loadavg()), flush=True)
            t0 = time.monotonic()
            time.sleep(SECONDS[loss])
            window = time.monotonic() - t0
            cpu1 = {k.name: (cpu_seconds_of(k.pids()),
                             cpu_seconds_of([net.shapers[n].proc.pid for n in k.links()
                                          if n in net.shapers])) for k in kinds}
            seen = loadlog.seen + [loadavg()[0]]
            drawn = {}
            for k in kinds:  # what the shapers drew over settling and window
                c = [net.counts(n) for n in k.links()]
                c = [x for x in c if x]
                sent = sum(x["a_in"] + x["b_in"] for x in c)
                drawn[k.name] = {
                    "packets": sent,
                    "lost": round(100.0 * sum(x["a_lost"] + x["b_lost"] for x in c) / sent, 2)
                    if sent else None,
                    "overflow": sum(x["a_overflow"] + x["b_overflow"] for x in c)} if c else {}
            outages = {k.name: k.host_outages_since(ws) for k in kinds}
            false = {name: len(rows) for name, rows in outages.items()}
            print("%s loss %g%%: window over, false silent %s; load average %s" % (
                utc(), loss, false, loadavg()), flush=True)
            detect = {k.name: [] for k in kinds}
            missed = {k.name: 0 for k in kinds}
            for r in range(ROUNDS):
                for k in kinds:
                    # A kind whose hosts flap (fixed, 30%, a link each: a false silence
                    # somewhere every second) is never all alive at once: after 30 s the
                    # victims are drawn from the hosts alive then.
                    try:
                        wait(k.all_alive, 30, "")
                    except RuntimeError:
                        wait(lambda: len(k.alive()) >= KILLS, 180,
                             "%s: %d hosts alive before round %d" % (k.name, KILLS, r))
                victims = {k.name: random.sample(k.alive(), KILLS) for k in kinds}
                killed = []
                for k in kinds:
                    for i in victims[k.name]:
                        killed.append((k, i))
                random.shuffle(killed)
                t_kill = {}
                for k, i in killed:
                    time.sleep(random.uniform(0, 0.1))
                    k.agents[i].kill()
                    t_kill[(k.name, i)] = time.monotonic()
                pending = set(t_kill)
                deadline = time.monotonic() + 40
                by = {k.name: k for k in kinds}
                while pending and time.monotonic() < deadline:
                    for key in list(pending):
                        if by[key[0]].open_silent(by[key[0]].host(key[1])):
                            detect[key[0]].append(time.monotonic() - t_kill[key])
                            pending.discard(key)
                    time.sleep(0.02)
                for name, i in pending:
                    missed[name] += 1
                for k, i in killed:
                    k.agents[i].wait()
                    k.start_agent(i)
            for k in kinds:
                d = detect[k.name]
                row = {"loss": loss, "delay_ms": delay, "shaper": how, "kind": k.name,
                       "hosts": HOSTS, "window_s": round(window), "host_hours":
                       round(HOSTS * window / 3600.0, 2), "false_silent": false[k.name],
                       "kills": len(d) + missed[k.name], "missed": missed[k.name],
                       "detect_p50_s": pct(d, 50), "detect_p99_s": pct(d, 99),
                       "detect_max_s": max(d) if d else None, "links": LINKS,
                       "shaped_links": len(k.links()), "drawn": drawn[k.name],
                       "false_hosts": sorted({h for h, _ in outages[k.name]}),
                       "load_1min_median": pct(seen, 50), "load_1min_max": max(seen),
                       "cpu_pct_agents_monitor": round(100.0 * (cpu1[k.name][0] - cpu0[k.name][0])
                                                       / window, 1),
                       "cpu_pct_shapers": round(100.0 * (cpu1[k.name][1] - cpu0[k.name][1])
                                                / window, 1)}
                thresholds = k.query("SELECT silence_threshold_ms, datagram_loss FROM hosts")
                t = [x[0] for x in thresholds if x[0]]
                ls = [x[1] for x in thresholds if x[1] is not None]
                row["threshold_ms_median"] = pct(t, 50)
                row["loss_estimate_median"] = pct(ls, 50)
                results.append(row)
                print("loss %g%% (%s, %s links x %d) %s: %.2f host-hours, %d false silent; "
                      "kill -> silent p50 %s s, p99 %s s, max %s s (n=%d, missed %d); threshold "
                      "median %s ms, loss estimate median %s; drawn %s; load average median %s "
                      "max %s; CPU %% of a core: agents+monitor %s, shapers %s" % (
                          loss, how, LINKS, row["shaped_links"], k.name, row["host_hours"],
                          row["false_silent"],
                          "%.2f" % row["detect_p50_s"] if d else "-",
                          "%.2f" % row["detect_p99_s"] if d else "-",
                          "%.2f" % row["detect_max_s"] if d else "-", len(d), missed[k.name],
                          row["threshold_ms_median"], row["loss_estimate_median"],
                          row["drawn"], row["load_1min_median"], row["load_1min_max"],
                          row["cpu_pct_agents_monitor"], row["cpu_pct_shapers"]), flush=True)
                print("row " + json.dumps(row), flush=True)
        print(json.dumps(results), flush=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one would cut the cleanup short
        loadlog.stopped.set()
        for k in kinds:
            k.stop()
        net.close()
        neigh_restore(saved)


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0)  # the settings above were read without an error
    # SIGTERM (bench.py stopping, or its death: see its bench_fleet) ends the
    # run through main's cleanup, so no namespace is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
