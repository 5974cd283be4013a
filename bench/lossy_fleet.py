#!/usr/bin/python3
"""Bench item 6, fleet form (issue 23): the adaptive detector with liveness
datagrams against the fixed threshold (liveness 5 x beat 1s), side by side
on the same shaped link.

    bench/lossy_fleet.py                (root: network namespaces)

One host namespace behind a shaped link (tc netem or zb-netem, both ways,
tests/faults/netns.py) holds HOSTS agents of each kind, every one an agent
with no services under a host name of its own: "fixed" agents publish to a
monitor with the defaults and no datagrams; "udp" agents to a second monitor
with monitor/udp, sending datagrams every 250 ms. Every packet's loss and
delay is drawn on its own, so the agents are HOSTS independent lossy links
as far as each one's traffic goes (they share a queue, as hosts behind one
bad uplink do). For each setting (clean; 10% and 30% loss with 100 +- 100 ms)
it counts false silent hosts over a window (host-hours = HOSTS x window),
then kills KILLS agents of each kind at random moments, ROUNDS times, and
times kill -> host outage in the database.

Environment: BENCH_FLEET_HOSTS (40), BENCH_FLEET_SECONDS (240 per setting),
BENCH_FLEET_KILLS (10 per round), BENCH_FLEET_ROUNDS (3), BENCH_FLEET_LOSSES
("0,10,30"). Prints one line per setting and kind, and JSON at the end."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..")
BUILD = os.environ.get("ZB_BUILD_DIR", os.path.join(SOURCE, "build"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "faults"))
import netns  # noqa: E402

HOSTS = int(os.environ.get("BENCH_FLEET_HOSTS", "40"))
SECONDS = float(os.environ.get("BENCH_FLEET_SECONDS", "240"))
KILLS = int(os.environ.get("BENCH_FLEET_KILLS", "10"))
ROUNDS = int(os.environ.get("BENCH_FLEET_ROUNDS", "3"))
LOSSES = [float(x) for x in os.environ.get("BENCH_FLEET_LOSSES", "0,10,30").split(",")]


def binary(name):
    return os.path.join(BUILD, "bin", name)


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


class Kind:
    def __init__(self, net, tmp, name, port, udp):
        self.net, self.tmp, self.name, self.port, self.udp = net, tmp, name, port, udp
        self.db = os.path.join(tmp, name + ".db")
        cfg = os.path.join(tmp, name + "-monitor.cfg")
        with open(cfg, "w") as f:
            f.write("monitor\n" + ("    udp = 0.0.0.0:%d\n" % udp if udp else ""))
        self.log = open(os.path.join(tmp, name + "-monitor.log"), "w")
        self.monitor = subprocess.Popen(net.exec_args(net.mon, [
            binary("zbeat-monitor"), "--db", self.db, "--bind", "tcp://0.0.0.0:%d" % port,
            "-c", cfg]), stdout=self.log, stderr=subprocess.STDOUT)
        self.agents = {}
        self.conn = None

    def host(self, i):
        return "%s-%03d" % (self.name, i)

    def start_agent(self, i):
        path = os.path.join(self.tmp, self.host(i) + ".cfg")
        addr = self.net.monitor_addr(1)
        with open(path, "w") as f:
            f.write("agent\n    name = %s\n    monitor = tcp://%s:%d\n    listen = 127.0.0.1:0\n"
                    % (self.host(i), addr, self.port))
            if self.udp:
                f.write("    udp = %s:%d\n    udp-beat = 250ms\n" % (addr, self.udp))
        log = open(os.path.join(self.tmp, self.host(i) + ".log"), "a")
        self.agents[i] = subprocess.Popen(self.net.exec_args(self.net.hosts[1], [
            binary("zbeat-agent"), "-c", path]), stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def query(self, sql, *args):
        if self.conn is None:
            if not os.path.exists(self.db):
                return []
            self.conn = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True,
                                        isolation_level=None, timeout=5)
        return self.conn.execute(sql, args).fetchall()

    def all_alive(self):
        rows = self.query("SELECT name FROM hosts WHERE state = 'alive' AND interval_ms > 0 "
                          "AND name NOT IN (SELECT host FROM outages WHERE kind = 'host' "
                          "AND ended_at_ms IS NULL)")
        return len(rows) >= HOSTS

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


def main():
    ok, why = netns.available()
    if not ok:
        sys.exit("bench: %s" % why)
    tmp = tempfile.mkdtemp(prefix="zb-lossy-fleet-")
    net = netns.Net(None, tool=binary("zb-netem"), logdir=tmp)
    results = []
    kinds = []
    try:
        net.host(1, shaped=True)
        kinds = [Kind(net, tmp, "fixed", 7500, None), Kind(net, tmp, "udp", 7501, 7502)]
        time.sleep(0.5)  # monitors binding: no agent connect is lost for it (ZeroMQ retries)
        for k in kinds:
            for i in range(HOSTS):
                k.start_agent(i)
        for loss in LOSSES:
            delay = 100 if loss else 0
            how = net.shape(1, loss=loss, delay=delay, jitter=delay)
            for k in kinds:
                wait(k.all_alive, 180, "%s: every host alive" % k.name)
            # The udp monitor's estimates settle (EWMA, ~200 datagrams).
            time.sleep(60)
            ws = int(time.time() * 1000)
            t0 = time.monotonic()
            time.sleep(SECONDS)
            window = time.monotonic() - t0
            false = {k.name: len(k.host_outages_since(ws)) for k in kinds}
            detect = {k.name: [] for k in kinds}
            missed = {k.name: 0 for k in kinds}
            for r in range(ROUNDS):
                for k in kinds:
                    wait(k.all_alive, 180, "%s: every host alive before round %d" % (k.name, r))
                victims = {k.name: random.sample(range(HOSTS), KILLS) for k in kinds}
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
                       "detect_max_s": max(d) if d else None}
                thresholds = k.query("SELECT silence_threshold_ms, datagram_loss FROM hosts")
                t = [x[0] for x in thresholds if x[0]]
                ls = [x[1] for x in thresholds if x[1] is not None]
                row["threshold_ms_median"] = pct(t, 50)
                row["loss_estimate_median"] = pct(ls, 50)
                results.append(row)
                print("loss %g%% (%s) %s: %.2f host-hours, %d false silent; kill -> silent "
                      "p50 %s s, p99 %s s, max %s s (n=%d, missed %d); threshold median %s ms, "
                      "loss estimate median %s" % (
                          loss, how, k.name, row["host_hours"], row["false_silent"],
                          "%.2f" % row["detect_p50_s"] if d else "-",
                          "%.2f" % row["detect_p99_s"] if d else "-",
                          "%.2f" % row["detect_max_s"] if d else "-", len(d), missed[k.name],
                          row["threshold_ms_median"], row["loss_estimate_median"]), flush=True)
        print(json.dumps(results))
    finally:
        for k in kinds:
            k.stop()
        net.close()


if __name__ == "__main__":
    main()
