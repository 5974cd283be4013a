"""Push and ttl services end to end (issue 4): the agent's listener with
real clients (raw sockets, zbeat-ping), its verdicts in beats and events, and
hostile input. Skipped while the agent does not accept push/ttl services."""

import json
import os
import selectors
import signal
import socket
import time
import unittest

import zbtest

PUSH = 1.0  # push = 1s: the deadline is push x 1.5
TTL = 2.0
MS = 0.002  # the agent's clock is in whole milliseconds: it may round a deadline down by one


def read_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    """A raw line-protocol client with a blocking socket and a deadline."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout * zbtest.SLOW)
        self.buf = b""

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def line(self):
        """The next reply line, or None at EOF or reset."""
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(4096)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def ask(self, text):
        self.send(text + "\n")
        return self.line()

    def close(self):
        self.sock.close()


class PushCase(zbtest.TestCase):
    def setUp(self):
        super().setUp()
        self.agent_bin = zbtest.bin("zbeat-agent")
        self.port = zbtest.free_port()
        probe = self.write("probe.cfg", self.config("tcp://127.0.0.1:1", [
            ("worker", {"push": "1s"}), ("job", {"ttl": "2s"})]))
        rc, out, err = self.run_cmd([self.agent_bin, "-c", probe, "--check-config"])
        if rc != 0:
            raise unittest.SkipTest("the agent does not accept push/ttl services yet: %s"
                                    % err.strip())
        self.sub = self.sub()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        super().tearDown()

    def config(self, monitor, services, beat="200ms"):
        lines = ["agent", "    name = push-host", "    monitor = %s" % monitor,
                 "    beat = %s" % beat, "    listen = tcp://127.0.0.1:%d" % self.port,
                 "service"]
        for name, keys in services:
            lines.append("    %s" % name)
            lines += ["        %s = %s" % kv for kv in keys.items()]
        return "\n".join(lines) + "\n"

    def start_agent(self, services, monitor=None):
        path = self.write("agent.cfg", self.config(monitor or self.sub.endpoint, services))
        self.t_start = time.monotonic()
        agent = self.start([self.agent_bin, "-c", path, "-v"], "agent")
        zbtest.wait_for(lambda: zbtest.port_open(self.port), 10, "the push listener")
        return agent

    def client(self):
        c = Client(self.port)
        self.clients.append(c)
        return c

    def mark(self):
        return len(self.sub.messages())

    def wait_event(self, service, to, timeout, start=0):
        return self.sub.wait(zbtest.is_event(service, to), timeout,
                             "event %s -> %s" % (service, to), start=start)

    def wait_beat_state(self, service, state, timeout, start=0):
        return self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                             zbtest.beat_state(m, service) == state, timeout,
                             "a beat with %s %s" % (service, state), start=start)

    def events_of(self, service, start=0):
        return [m for m in self.sub.messages()[start:]
                if m["msg"]["type"] == "event" and m["msg"].get("service") == service]

    def ping_run(self, service, cmd, every="300ms"):
        return [zbtest.bin("zbeat-ping"), "--agent", "127.0.0.1:%d" % self.port, "--every",
                every, "run", service, "--"] + cmd


class Push(PushCase):
    def test_silent_client_is_down_after_the_deadline_not_before(self):
        self.start_agent([("worker", {"push": "1s"})])
        c = self.client()
        self.assertEqual(c.ask("HELLO worker interval=1s"), "OK hello")
        self.assertEqual(c.ask("PING"), "PONG")
        self.wait_beat_state("worker", "up", 5)
        start = self.mark()
        t_last = time.monotonic()  # before the agent can have read the PING
        self.assertEqual(c.ask("PING"), "PONG")
        # The socket stays open, nothing more is written.
        down = self.wait_event("worker", "down", 10, start=start)
        delay = down["t"] - t_last
        self.assertEqual(down["msg"]["reason"], "timeout")
        self.assertGreaterEqual(delay, PUSH * 1.5 - MS, "down before the deadline")
        self.assertLess(delay, PUSH * 1.5 + PUSH, "down long after the deadline")
        # ... and the agent closed the connection.
        self.assertEqual(c.line(), "ERR timeout")
        self.assertIsNone(c.line())
        beat = self.wait_beat_state("worker", "down", 5, start=start)
        svc = [s for s in beat["msg"]["services"] if s["name"] == "worker"][0]
        self.assertEqual(svc["kind"], "push")

    def test_killed_client_is_down_at_once_and_up_on_reconnect(self):
        self.start_agent([("worker", {"push": "1s"})])
        ping = self.start(self.ping_run("worker", ["sleep", "60"]), "zbeat-ping")
        self.wait_beat_state("worker", "up", 10)
        with open("/proc/%d/task/%d/children" % (ping.pid, ping.pid)) as f:
            child = int(f.read().split()[0])
        self.addCleanup(lambda: os.path.exists("/proc/%d" % child) and os.kill(child, 9))
        start = self.mark()
        t_kill = time.monotonic()
        ping.stop(signal.SIGKILL)
        down = self.wait_event("worker", "down", 10, start=start)
        self.assertEqual(down["msg"]["reason"], "closed")
        self.assertLess(down["t"] - t_kill, PUSH / 2, "a dead client must be seen at once")

        start = self.mark()
        self.start(self.ping_run("worker", ["sleep", "60"]), "zbeat-ping-2")
        up = self.wait_event("worker", "up", 10, start=start)
        self.assertEqual(up["msg"]["from"], "down")

    def test_bye_is_a_planned_stop_without_outage(self):
        self.start_agent([("worker", {"push": "1s"})])
        start = self.mark()
        rc, _, err = self.run_cmd(self.ping_run("worker", ["sleep", "0.7"]))
        self.assertEqual(rc, 0, err)
        stopped = self.wait_event("worker", "stopped", 5, start=start)
        self.assertEqual(stopped["msg"]["reason"], "bye")
        # Well past the deadline: still stopped, never down.
        self.sub.wait(lambda m: m["t"] > stopped["t"] + PUSH * 2 and m["msg"]["type"] == "beat",
                      10, "a beat two push intervals after BYE", start=start)
        self.assertEqual(zbtest.beat_state(self.sub.beats()[-1], "worker"), "stopped")
        self.assertEqual([e["msg"]["to"] for e in self.events_of("worker", start)
                          if e["msg"]["to"] == "down"], [])

    def test_never_connected(self):
        self.start_agent([("worker", {"push": "1s"})])
        down = self.wait_event("worker", "down", 10)
        self.assertEqual(down["msg"]["reason"], "never-connected")
        self.assertGreaterEqual(down["t"] - self.t_start, PUSH * 1.5 - MS)

    def test_newest_connection_wins(self):
        self.start_agent([("worker", {"push": "1s"})])
        old = self.client()
        self.assertEqual(old.ask("HELLO worker"), "OK hello")
        self.wait_beat_state("worker", "up", 5)
        start = self.mark()
        new = self.client()
        self.assertEqual(new.ask("HELLO worker"), "OK hello")
        self.assertEqual(old.line(), "ERR replaced")
        self.assertIsNone(old.line())
        self.assertEqual(new.ask("PING"), "PONG")
        # Still up a deadline later, through the new connection.
        t0 = time.monotonic()
        while time.monotonic() - t0 < PUSH * 2:
            self.assertEqual(new.ask("PING"), "PONG")
            n = self.mark()  # paced by the agent's beats (200 ms)
            self.sub.wait(lambda m: m["msg"]["type"] == "beat", 5, "the next beat", start=n)
        self.assertEqual(self.events_of("worker", start), [])
        self.assertEqual(zbtest.beat_state(self.sub.beats()[-1], "worker"), "up")


class Ttl(PushCase):
    def test_checkin_up_then_ttl_expired(self):
        self.start_agent([("job", {"ttl": "2s"})])
        start = self.mark()
        t_before = time.monotonic()
        rc, _, err = self.run_cmd([zbtest.bin("zbeat-ping"), "--agent",
                                   "127.0.0.1:%d" % self.port, "checkin", "job"])
        t_after = time.monotonic()
        self.assertEqual(rc, 0, err)
        self.wait_beat_state("job", "up", 5, start=start)
        down = self.wait_event("job", "down", 10, start=start)
        self.assertEqual(down["msg"]["reason"], "ttl-expired")
        self.assertGreaterEqual(down["t"] - t_before, TTL - MS, "expired early")
        self.assertLess(down["t"] - t_after, TTL + 1.5)
        # The close after CHECKIN was no outage of its own.
        downs = [e for e in self.events_of("job", start) if e["msg"]["to"] == "down"]
        self.assertEqual(len(downs), 1)

    def test_checkin_of_undeclared_service_fails(self):
        self.start_agent([("job", {"ttl": "2s"})])
        rc, _, err = self.run_cmd([zbtest.bin("zbeat-ping"), "--agent",
                                   "127.0.0.1:%d" % self.port, "checkin", "nope"])
        self.assertEqual(rc, 1)
        self.assertIn("ERR unknown-service", err)


class Hostile(PushCase):
    def test_bad_clients_do_not_disturb_the_agent(self):
        target = zbtest.TcpServer(self)
        agent = self.start_agent([("worker", {"push": "1s"}),
                                  ("other", {"probe": "127.0.0.1:%d" % target.port,
                                             "send": '"PING\\r\\n"', "expect": '"+PONG"',
                                             "interval": "200ms", "timeout": "100ms"})])
        self.wait_beat_state("other", "up", 10)
        rss_before = read_rss_kb(agent.pid)
        start = self.mark()

        for text, reply in ((b"\x00\xff\xfe garbage\x01\n", "ERR bad-command"),
                            (b"PING\n", "ERR no-hello"),
                            (b"HELLO nope\n", "ERR unknown-service"),
                            (b"HELLO other\n", "ERR unknown-service"),  # a probe service
                            (b"HELLO worker\nHELLO worker\n", None)):
            c = self.client()
            c.send(text)
            if reply:
                self.assertEqual(c.line(), reply, text)
            else:
                self.assertEqual(c.line(), "OK hello")
                self.assertEqual(c.line(), "ERR second-hello")
            self.assertIsNone(c.line())

        big = self.client()
        try:
            big.send(b"x" * (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the agent closed it early: also right
        self.assertIn(big.line(), ("ERR line-too-long", None))

        # 5000 idle connections: the cap refuses some, the rest are cut at
        # the HELLO timeout; none is kept for ever.
        sel = selectors.DefaultSelector()
        idle = []
        for _ in range(5000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            idle.append(s)
            sel.register(s, selectors.EVENT_READ)
        open_idle = set(idle)
        too_many = 0
        deadline = time.monotonic() + 30 * zbtest.SLOW
        while open_idle and time.monotonic() < deadline:
            for key, _ in sel.select(0.1):
                s = key.fileobj
                try:
                    data = s.recv(100)
                except OSError:
                    data = b""
                if data.startswith(b"ERR too-many"):
                    too_many += 1
                if not data or data.startswith(b"ERR"):
                    sel.unregister(s)
                    open_idle.discard(s)
        rss_after = read_rss_kb(agent.pid)
        for s in idle:
            s.close()
        sel.close()
        self.assertEqual(len(open_idle), 0, "idle connections still open after 30 s")
        self.assertGreater(too_many, 0, "no connection was refused by the cap")
        self.assertLess(rss_after - rss_before, 32 * 1024, "agent memory grew too much")

        # Meanwhile the probe kept its pace and the beats theirs.
        self.assertEqual([e for e in self.events_of("other", start)], [])
        # The agent's send times, not our receipt times: this busy test
        # process may read late, the agent must not send late.
        beats = [m["msg"]["time_ms"] / 1000.0 for m in self.sub.messages()[start:]
                 if m["msg"]["type"] == "beat"]
        gaps = [b - a for a, b in zip(beats, beats[1:])]
        self.assertGreater(len(beats), 10)
        self.assertLess(max(gaps), 1.0, "beats %.2fs apart (beat = 200ms)" % max(gaps))
        self.assertTrue(agent.alive())

        # And it still serves a well-behaved client.
        c = self.client()
        self.assertEqual(c.ask("HELLO worker"), "OK hello")
        self.assertEqual(c.ask("PING"), "PONG")


class EndToEnd(PushCase):
    def test_push_outage_in_zbeat_outages(self):
        monitor_bin = zbtest.bin("zbeat-monitor")
        cli = zbtest.bin("zbeat")
        db = os.path.join(self.tmp, "zbeat.db")
        endpoint = "tcp://127.0.0.1:%d" % zbtest.free_port()
        self.start([monitor_bin, "--db", db, "--bind", endpoint], "monitor")
        self.start_agent([("worker", {"push": "1s"})], monitor="%s,%s" % (endpoint,
                                                                       self.sub.endpoint))
        ping = self.start(self.ping_run("worker", ["sleep", "60"]), "zbeat-ping")
        self.wait_beat_state("worker", "up", 10)
        with open("/proc/%d/task/%d/children" % (ping.pid, ping.pid)) as f:
            child = int(f.read().split()[0])
        self.addCleanup(lambda: os.path.exists("/proc/%d" % child) and os.kill(child, 9))
        start = self.mark()
        ping.stop(signal.SIGKILL)
        self.wait_event("worker", "down", 10, start=start)
        self.start(self.ping_run("worker", ["sleep", "60"]), "zbeat-ping-2")
        self.wait_event("worker", "up", 10, start=start)

        def outage():
            rc, out, err = self.run_cmd([cli, "--db", db, "outages", "--json"])
            if rc != 0 or not out.strip():
                return None
            try:
                rows = json.loads(out)
            except ValueError:
                rows = [json.loads(l) for l in out.splitlines() if l.strip()]
            rows = rows if isinstance(rows, list) else [rows]
            for row in rows:
                if row.get("service") == "worker" and row.get("ended_at"):
                    return row
            return None
        row = zbtest.wait_for(outage, 15, "the push outage in `zbeat outages`")
        self.assertEqual(row["host"], "push-host")
        self.assertEqual(row["kind"], "service")  # a service outage, not a host one
        self.assertEqual(row["reason"], "closed")


if __name__ == "__main__":
    zbtest.main()
