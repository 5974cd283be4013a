#!/usr/bin/python3
"""Bench item 6b (issue 23): the monitor's CPU for N hosts sending liveness
datagrams at R per second each (defaults 10,000 and 4), in clear, on
loopback.

    bench/udp_load.py [HOSTS] [RATE] [SECONDS]

Each host is made known by one beat over ZeroMQ (an XPUB, as the tests'
fake agents), then only datagrams keep it alive; the generator paces them
evenly. The monitor's CPU is read from /proc over the window; what the
monitor accepted, how many it counted and whether any host went silent are
printed with it. Needs python3-zmq; no root."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import zmq
from bench_proc import free_port, cpu_seconds

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("ZB_BUILD_DIR", os.path.join(HERE, "..", "build"))


def main():
    hosts = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    tmp = tempfile.mkdtemp(prefix="zb-udp-load-")
    zport, uport = free_port(), free_port()
    cfg = os.path.join(tmp, "monitor.cfg")
    with open(cfg, "w") as f:
        f.write("monitor\n    udp = 127.0.0.1:%d\n" % uport)
    log = open(os.path.join(tmp, "monitor.log"), "w")
    mon = subprocess.Popen([os.path.join(BUILD, "bin", "zbeat-monitor"), "--db",
                            os.path.join(tmp, "z.db"), "--bind", "tcp://127.0.0.1:%d" % zport,
                            "-c", cfg], stdout=log, stderr=subprocess.STDOUT)
    try:
        ctx = zmq.Context.instance()
        pub = ctx.socket(zmq.XPUB)
        pub.setsockopt(zmq.SNDHWM, 0)
        pub.connect("tcp://127.0.0.1:%d" % zport)
        pub.recv()  # the monitor's subscription
        names = ["load-%05d" % i for i in range(hosts)]
        instance = "%016x" % 0xabcdef
        now = int(time.time() * 1000)
        for name in names:
            msg = {"v": 1, "type": "beat", "host": name, "instance": instance, "seq": 1,
                   "time_ms": now, "interval_ms": 60000, "dropped": 0, "services": []}
            pub.send_multipart([("beat." + name).encode(), json.dumps(msg).encode()])
        db = os.path.join(tmp, "z.db")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            out = subprocess.run([os.path.join(BUILD, "bin", "zbeat"), "--db", db, "hosts",
                                  "--json"], capture_output=True, text=True).stdout
            if out.strip() and len(json.loads(out)) >= hosts:
                break
            time.sleep(0.5)
        heads = [b"ZBU\x01\x00" + bytes([len(n)]) + n.encode() + instance.encode()
                 for n in names]
        tail = (int(1000 / rate)).to_bytes(4, "big") + bytes(4)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        to = ("127.0.0.1", uport)
        per_tick, tick = hosts * rate / 100.0, 0.01  # paced in 10 ms slices
        seq, sent, i, carry = 1, 0, 0, 0.0
        start = time.monotonic()
        c0, w0 = None, None
        warm = 5.0
        while True:
            t = time.monotonic() - start
            if c0 is None and t >= warm:
                c0, w0 = cpu_seconds(mon.pid), time.monotonic()
            if t >= warm + seconds:
                break
            carry += per_tick
            n = int(carry)
            carry -= n
            for _ in range(n):
                if i == hosts:
                    i, seq = 0, seq + 1
                udp.sendto(heads[i] + (seq + 1).to_bytes(8, "big") + tail, to)
                i += 1
                sent += 1
            left = start + (int(t / tick) + 1) * tick - time.monotonic()
            if left > 0:
                time.sleep(left)
        c1, w1 = cpu_seconds(mon.pid), time.monotonic()
        mon.send_signal(signal.SIGTERM)
        mon.wait(30)
        log.close()
        text = open(os.path.join(tmp, "monitor.log")).read()
        dg = re.findall(r"datagrams: (.*)", text)
        silent = text.count("host silent")
        print("hosts %d, %.1f datagrams/s each (%.0f/s), window %.0f s: monitor CPU %.1f%% "
              "of one core; sent %d; monitor %s; hosts flagged silent %d"
              % (hosts, rate, hosts * rate, w1 - w0, 100.0 * (c1 - c0) / (w1 - w0), sent,
                 dg[-1] if dg else "(no datagram line)", silent))
    finally:
        if mon.poll() is None:
            mon.kill()


if __name__ == "__main__":
    main()
