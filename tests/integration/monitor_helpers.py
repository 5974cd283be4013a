"""Helpers shared by the test_monitor_*.py and test_cli_*.py integration tests:
a fake agent speaking protocol v1 exactly (for precise control of sequence
numbers, instances and timestamps), and a TestCase that runs zbeat-monitor on
a temp database and reads it back through the zbeat CLI."""

import json
import os
import re
import secrets
import signal
import time

import zmq

import zbtest


def now_ms():
    return int(time.time() * 1000)


def rfc3339(ms):
    """Whole seconds, as the CLI's --since and --until take them."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def parse_rfc3339_ms(text):
    """'2026-11-28T05:40:07.123Z' -> ms since the epoch."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,3}))?Z", text)
    assert m, "not RFC 3339 UTC: %r" % text
    import calendar
    secs = calendar.timegm(tuple(int(g) for g in m.groups()[:6]))
    frac = m.group(7) or "0"
    return secs * 1000 + int(frac.ljust(3, "0"))


class FakeAgent:
    """Publishes protocol v1 messages to a monitor. XPUB rather than PUB: it
    receives the monitor's subscription, so the test knows when sending
    starts to count (NOTES-zeromq: a PUB drops what it sends before)."""

    def __init__(self, endpoint, host, interval_ms=1000, instance=None, sndhwm=None):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.XPUB)
        if sndhwm is not None:
            #  Before connect: the pipe takes the value it is made with.
            self.sock.setsockopt(zmq.SNDHWM, sndhwm)
        #  Every subscription, also a restarted monitor's repeat of one the
        #  kept pipe still holds (a connecting socket keeps its pipe).
        self.sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.sock.setsockopt(zmq.LINGER, 2000)
        self.sock.connect(endpoint)
        self.endpoint = endpoint
        self.host = host
        self.interval_ms = interval_ms
        self.instance = instance or secrets.token_hex(8)
        self.seq = 0
        self.services = {}  # name -> dict as in a beat

    def wait_subscribed(self, timeout=10):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        deadline = time.monotonic() + timeout * zbtest.SLOW
        while time.monotonic() < deadline:
            if poller.poll(50):
                if self.sock.recv() == b"\x01":
                    return
        raise AssertionError("timed out waiting for the monitor's subscription")

    def restart(self):
        """A new agent run: new instance id, sequence numbers from 1."""
        self.instance = secrets.token_hex(8)
        self.seq = 0

    def _send(self, kind, body, seq=None, live=True):
        """Sends a message (live=False: only numbers it, as one the monitor
        missed); returns it as a dict with its two frames under "frames"."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        msg = {"v": 1, "type": kind, "host": self.host, "instance": self.instance, "seq": seq,
               "time_ms": now_ms()}
        msg.update(body)
        frames = [("%s.%s" % (kind, self.host)).encode(), json.dumps(msg).encode()]
        if live:
            self.sock.send_multipart(frames)
        return dict(msg, frames=frames)

    def set(self, name, state, since_ms=None, reason=None, error=""):
        """Changes the service table that beats report (no event sent)."""
        self.services[name] = {"name": name, "kind": "probe", "state": state,
                               "since_ms": since_ms if since_ms is not None else now_ms(),
                               "rtt_us": 100 if state == "up" else None,
                               "reason": reason or ("ok" if state == "up" else "refused"),
                               "error": error}

    def drop(self, name):
        self.services.pop(name, None)

    def beat(self, seq=None):
        return self._send("beat", {"interval_ms": self.interval_ms, "dropped": 0,
                                   "services": list(self.services.values())}, seq)

    def event(self, service, to, at_ms=None, reason=None, error="", seq=None, live=True):
        """A transition event; also updates the beat table."""
        at_ms = at_ms if at_ms is not None else now_ms()
        frm = self.services.get(service, {}).get("state", "unknown")
        reason = reason or {"up": "ok", "down": "refused", "removed": "removed"}.get(to, "")
        if to == "removed":
            self.drop(service)
        else:
            self.set(service, to, at_ms, reason, error)
        return self._send("event", {"service": service, "from": frm, "to": to, "at_ms": at_ms,
                                    "reason": reason, "error": error}, seq, live)

    def stop(self):
        """The planned-stop host event an agent sends on SIGTERM."""
        return self._send("event", {"from": "up", "to": "stopped", "at_ms": now_ms(),
                                    "reason": "planned-stop", "error": ""})

    def send_raw(self, frames):
        self.sock.send_multipart(frames)

    def close(self):
        self.sock.close(linger=1000)


class MonitorCase(zbtest.TestCase):
    """Runs zbeat-monitor on a temp database; reads it through zbeat."""

    def setUp(self):
        super().setUp()
        self.monitor_bin = zbtest.bin("zbeat-monitor")
        self.cli_bin = zbtest.bin("zbeat")
        self.db = os.path.join(self.tmp, "zbeat.db")
        self.port = zbtest.free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.fakes = []
        self.monitor = None

    def tearDown(self):
        for fake in self.fakes:
            fake.close()
        super().tearDown()

    def start_monitor(self, args=(), name="monitor"):
        proc = self.start([self.monitor_bin, "--db", self.db, "--bind", self.endpoint] +
                          list(args), name)
        zbtest.wait_for(lambda: "listening on" in proc.output() or not proc.alive(), 10,
                        "monitor listening")
        self.assertTrue(proc.alive(), "monitor exited at start:\n" + proc.output())
        self.monitor = proc
        return proc

    def stop_monitor(self, proc=None):
        """SIGTERM: exit 0; returns the counters of its final stats line."""
        proc = proc or self.monitor
        rc = proc.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, "monitor exit code after SIGTERM")
        return self.stats(proc)

    def stats(self, proc=None):
        proc = proc or self.monitor
        m = re.findall(r"monitor stopping: (.*)", proc.output())
        self.assertTrue(m, "no stats line in the monitor log")
        return {k: int(v) for k, v in (kv.split("=") for kv in m[-1].split())}

    def fake(self, host, interval_ms=1000, subscribed=True, sndhwm=None):
        agent = FakeAgent(self.endpoint, host, interval_ms, sndhwm=sndhwm)
        self.fakes.append(agent)
        if subscribed:
            agent.wait_subscribed()
        return agent

    def resync(self, agent, timeout=10):
        """After a monitor restart: sends beats until one is recorded (a
        marker service shows up), so later messages are known to arrive."""
        agent.set("zz-marker", "up")

        def recorded():
            agent.beat()
            return self.status().get((agent.host, "zz-marker"))
        zbtest.wait_for(recorded, timeout, "monitor hears %s again" % agent.host)

    def wait_beating(self, host, timeout=10):
        """Until a beat of host was recorded: only then is its interval (and
        so its silence deadline) known to the monitor."""
        def check():
            rows = [h for h in self.cli_json("hosts") if h["host"] == host]
            return rows and rows[0]["interval_ms"] > 0
        zbtest.wait_for(check, timeout, "a beat from %s" % host)

    def cli(self, *args, db=None):
        """Runs zbeat on the test database: (exit code, stdout, stderr)."""
        return self.run_cmd([self.cli_bin, "--db", db or self.db] + [str(a) for a in args])

    def cli_json(self, *args):
        rc, out, err = self.cli(*(list(args) + ["--json"]))
        self.assertEqual(rc, 0, "zbeat %s failed: %s" % (" ".join(args), err))
        return json.loads(out)

    def outages(self, *args):
        return self.cli_json("outages", *args)

    def status(self):
        """{(host, service or None): row}."""
        return {(r["host"], r["service"]): r for r in self.cli_json("status")}

    def wait_outages(self, pred, timeout, what, *args):
        """Waits until pred(outages list) is true; returns the list."""
        def check():
            if not os.path.exists(self.db):
                return None
            rows = self.outages(*args)
            return rows if pred(rows) else None
        return zbtest.wait_for(check, timeout, what)

    def wait_state(self, host, service, state, timeout, what=None):
        def check():
            if not os.path.exists(self.db):
                return None
            row = self.status().get((host, service))
            return row if row and row["state"] == state else None
        return zbtest.wait_for(check, timeout, what or "%s/%s %s" % (host, service, state))

    def wait_states(self, host, states, timeout=15, db=None):
        """Until the database (db, else the test's) shows each service of
        host in its state ({name: state}): a fault injected before every
        service has settled races the start."""
        def check():
            path = db or self.db
            if not os.path.exists(path):
                return None
            rc, out, _ = self.cli("status", "--json", db=path)
            if rc != 0:
                return None
            rows = {r["service"]: r["state"] for r in json.loads(out)
                    if r.get("host") == host and r.get("service")}
            return all(rows.get(k) == v for k, v in states.items())
        zbtest.wait_for(check, timeout, "%s: %r" % (host, states))

    def log_time(self, pattern, proc=None):
        """Wall time (s) of the first monitor log line matching pattern."""
        times = log_times(proc or self.monitor, pattern)
        return times[0] if times else None


def log_times(proc, pattern):
    """Wall times (s) of every log line of proc matching pattern."""
    return [parse_rfc3339_ms(line.split()[0]) / 1000.0 for line in proc.output().splitlines()
            if re.search(pattern, line)]


def service_outages(rows, host=None, service=None):
    return [r for r in rows if r["kind"] == "service" and (host is None or r["host"] == host)
            and (service is None or r["service"] == service)]


def host_outages(rows, host=None):
    return [r for r in rows if r["kind"] == "host" and (host is None or r["host"] == host)]


# --------------------------------------------------------------------------
# Alerting: a real HTTP receiver, a connecting SUB for the alert stream, and
# a MonitorCase that writes the monitor's configuration.

import http.server
import socket
import threading


class WebhookReceiver:
    """A real HTTP server (python's http.server) in a thread, recording every
    POST as {'path', 'body' (decoded JSON, or None), 'raw', 'headers', 't'}.
    .status is the answer; .stop() closes the listening socket (connections
    refused), .start() listens again on the same port. While stopped the port
    stays bound (not listening), so no other test's server can take it."""

    def __init__(self, case=None, status=200):
        self.status = status
        self.port = 0
        self._lock = threading.Lock()
        self._posts = []
        self._server = None
        self._thread = None
        self._placeholder = None
        self.start()
        self.port = self._server.server_address[1]
        if case is not None:
            case.addCleanup(self.close)

    def start(self):
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with receiver._lock:
                    status = receiver.status
                    if 200 <= status < 300:
                        receiver._posts.append({"path": self.path, "body": body, "raw": raw,
                                                "headers": dict(self.headers),
                                                "t": time.monotonic()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None
            # Bound, never listening: connections are refused, and the
            # port is still ours when the receiver comes back.
            self._placeholder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._placeholder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._placeholder.bind(("127.0.0.1", self.port))

    def close(self):
        self.stop()
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def posts(self):
        with self._lock:
            return list(self._posts)

    def alerts(self):
        """The alert JSON bodies received (json template), in order."""
        return [p["body"] for p in self.posts()]


class StreamSub(zbtest.SubReader):
    """A SUB socket connected to the monitor's PUB (the usual direction for
    a stream), polled by a thread from the start, recording (topic, JSON)."""

    def __init__(self, case, endpoint):
        super().__init__(case, endpoint, connect=True)

    def _record(self, frames, t):
        return (frames[0].decode(), json.loads(frames[1]))


class AlertCase(MonitorCase):
    """A MonitorCase whose monitor runs with an alerting configuration."""

    def monitor_config(self, channels=(), **monitor):
        """ZPL: monitor keys (flap_threshold -> flap-threshold) and channels,
        a list of (name, {key: value})."""
        lines = ["monitor"]
        lines.extend("    %s = %s" % (k.replace("_", "-"), v) for k, v in monitor.items())
        if channels:
            lines.append("alert")
            for name, keys in channels:
                lines.append("    %s" % name)
                lines.extend("        %s = %s" % kv for kv in keys.items())
        return self.write("monitor.cfg", "\n".join(lines) + "\n")

    def start_alerting(self, channels=(), name="monitor", **monitor):
        path = self.monitor_config(channels, **monitor)
        return self.start_monitor(["-c", path, "-v"], name)

    def alerts(self, *args):
        """zbeat alerts --json, oldest first."""
        return list(reversed(self.cli_json("alerts", *args)))

    def wait_delivered(self, count, timeout, what, channel=None):
        """Until `count` alerts exist and every delivery is settled: sent, or
        held by a silence (nothing more will happen to it until it ends)."""
        def check():
            rows = self.alerts()
            if len(rows) < count:
                return None
            ds = [d for r in rows for d in r["deliveries"]
                  if channel is None or d["channel"] == channel]
            return rows if ds and all(d["status"] in ("sent", "held") for d in ds) else None
        return zbtest.wait_for(check, timeout, what)


def triggers(alerts):
    """[(trigger, host, service)] of alert JSONs."""
    return [(a["trigger"], a["host"], a["service"]) for a in alerts]
