"""Live reload on SIGHUP (issue 10): services added, changed, removed and
unchanged; agent keys (monitor, beat, listen); bad files and a changed host
name rejected while the agent carries on with what it had."""

import signal
import socket
import time

import zbtest
from agent_helpers import AgentCase, agent_config

PING = {"send": '"PING\\r\\n"', "expect": '"+PONG"'}


class PingServer(zbtest.SelectorServer):
    """A +PONG server that records, per accepted connection, the peer port
    and the receipt time of every line, so a test can tell "the same
    connection" from "a reconnect" and measure the ping cadence. Only
    connections that carried a ping count: a held probe also connects
    afresh beside its pings (and resets that connection at once) to see
    whether the listener is still there."""

    def __init__(self, case):
        self._records = []  # {'port': peer port, 'times': [t], 'open': bool}, in accept order
        super().__init__(case)

    def _open(self, sock):
        record = {"port": sock.getpeername()[1], "times": [], "open": True}
        with self._lock:
            self._records.append(record)
        return record

    def _data(self, sock, record, data):
        lines = data.count(b"\n")
        now = time.monotonic()
        with self._lock:
            record["times"] += [now] * lines
        try:
            sock.send(b"+PONG\r\n" * lines)
        except OSError:
            pass

    def _closed(self, record, eof):
        with self._lock:
            record["open"] = False

    def ports(self):
        with self._lock:
            return [c["port"] for c in self._records if c["times"]]

    def open_ports(self):
        with self._lock:
            return [c["port"] for c in self._records if c["open"] and c["times"]]

    def used(self):
        """Connections that carried a ping."""
        return len(self.ports())

    def pings_since(self, t, until=float("inf")):
        with self._lock:
            return sum(1 for c in self._records for x in c["times"] if t <= x < until)


def probe(server, interval="500ms", timeout="400ms", **extra):
    """A ping probe of server. The timeouts leave room: a PingServer is a
    thread of this process, which shares its interpreter lock with the
    other servers, the subscriber and the test; a reply later than the
    timeout closes the connection, and a test that counts connections
    would see a reconnect that is only load."""
    keys = dict(PING, probe="127.0.0.1:%d" % server.port, interval=interval, timeout=timeout)
    keys.update(extra)
    return keys


def service_of(beat, name):
    for s in beat["msg"]["services"]:
        if s["name"] == name:
            return s
    return None


class ReloadTest(AgentCase):

    def write_config(self, services, **kw):
        kw.setdefault("beat", "200ms")
        return self.write("agent.cfg", agent_config(self.sub.endpoint, services, **kw))

    def start_with(self, services, **kw):
        path = self.write_config(services, **kw)
        agent = self.start([self.agent_bin, "-c", path, "-v"], "agent")
        self.wait_subscribed()
        return agent

    def beat_with(self, pred, what, start=0, timeout=10):
        return self.sub.wait(lambda m: m["msg"]["type"] == "beat" and pred(m), timeout, what,
                             start=start)

    def all_up(self, names):
        return lambda m: all(zbtest.beat_state(m, n) == "up" for n in names)

    def reload(self, agent, what="reloaded"):
        """SIGHUP, and wait for the agent's verdict on it in the log."""
        before = agent.output().count(what)
        agent.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: agent.output().count(what) > before, 10, "log: " + what)

    def test_add_change_remove_keep(self):
        keep, change, remove, add = (PingServer(self) for _ in range(4))
        agent = self.start_with([("keep", probe(keep)), ("change", probe(change, "2s")),
                                 ("remove", probe(remove))])
        first = self.beat_with(self.all_up(["keep", "change", "remove"]), "all three up")
        zbtest.wait_for(lambda: keep.used() == 1 and change.used() == 1, 5,
                        "one connection each")
        before = {n: service_of(first, n) for n in ("keep", "change")}
        keep_ports, change_ports = keep.ports(), change.ports()

        self.write_config([("keep", probe(keep)), ("change", probe(change, "500ms", "300ms")),
                           ("add", probe(add))])
        start = self.mark()
        t_reload = time.monotonic()
        self.reload(agent)

        # The removed service is announced as removed, not as down.
        removed = self.wait_event("remove", "removed", 5, start=start)
        self.assertEqual((removed["msg"]["from"], removed["msg"]["reason"]), ("up", "removed"))
        # The added one is in the next beat (unknown until its first check),
        # the removed one is gone from every beat after its event.
        nxt = self.beat_with(lambda m: True, "a beat after the reload",
                             start=self.sub.messages().index(removed))
        self.assertIsNotNone(service_of(nxt, "add"))
        self.wait_event("add", "up", 5, start=start)
        later = self.beat_with(self.all_up(["keep", "change", "add"]), "keep, change, add up",
                               start=start)
        # The beat grid goes on through the reload, by the agent's send
        # times of the beats around it (judged from most beats, so one late
        # wake-up under load is no fault): a reload that restarted the beat
        # timer would put every later beat off the old grid by one phase.
        prior = [m for m in self.sub.messages()[:start] if m["msg"]["type"] == "beat"][-4:]
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and m["t"] > later["t"] + 1.2, 5,
                      "beats after the reload", start=start)
        after = [m for m in self.sub.messages()[start:] if m["msg"]["type"] == "beat"]
        zbtest.assert_beat_grid(self, [m["msg"]["time_ms"] for m in prior + after], 200, 3)
        for m in self.sub.messages()[start:]:
            if m["msg"]["type"] == "beat" and m["t"] >= nxt["t"]:
                self.assertIsNone(service_of(m, "remove"), "removed service still in a beat")
        zbtest.wait_for(lambda: remove.open_ports() == [], 5, "the removed probe's connection "
                        "closed")

        # Unchanged and timing-only changes keep their connection, state and
        # since: no reconnect, no event, no blip in any beat.
        self.assertEqual(keep.ports(), keep_ports, "keep reconnected")
        self.assertEqual(change.ports(), change_ports, "change reconnected")
        self.assertEqual(keep.open_ports(), keep_ports)
        for name in ("keep", "change"):
            self.assertEqual(service_of(later, name)["since_ms"], before[name]["since_ms"], name)
            self.assertEqual([m for m in self.sub.events()
                              if m["msg"].get("service") == name and m["t"] >= t_reload], [])
        for m in self.sub.messages()[start:]:
            if m["msg"]["type"] == "beat":
                self.assertEqual(zbtest.beat_state(m, "keep"), "up")
                self.assertEqual(zbtest.beat_state(m, "change"), "up")

        # The new interval applies: 500ms instead of 2s. Counted by receipt
        # over the time that really passed (this thread may wake late), w
        # >= 3 s: about 2w pings at 500 ms (one less for a ping received
        # after the end); the old 2 s interval gives at most w/2 + 1, and
        # one more for a ping sent before the start and received after it;
        # a spin hundreds.
        t0 = time.monotonic()
        zbtest.wait_for(lambda: time.monotonic() - t0 >= 3.0, 5, "three seconds of pings")
        t1 = time.monotonic()
        pings, want = change.pings_since(t0, t1), (t1 - t0) / 0.5
        self.assertGreater(pings, int((t1 - t0) / 2) + 2,
                           "pings in %.2fs at interval 500ms" % (t1 - t0))
        self.assertLessEqual(pings, want + 3)

        # One instance, one sequence, no gap.
        msgs = self.sub.messages()
        self.assertEqual({m["msg"]["instance"] for m in msgs}, {first["msg"]["instance"]})
        seqs = [m["msg"]["seq"] for m in msgs if m["t"] >= first["t"]]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.assertIn("1 added, 1 removed, 1 changed (0 restarted), 1 unchanged", agent.output())
        self.stop_agent(agent)

    def test_bad_config_and_name_change_are_rejected(self):
        server = PingServer(self)
        agent = self.start_with([("svc", probe(server))])
        self.beat_with(self.all_up(["svc"]), "svc up")

        path = self.write("agent.cfg", "agent\n    name = test-host\n    monitor = %s\n"
                          "service\n    svc\n        probe = 127.0.0.1:%d\n"
                          "        interval = 5x\n    new\n        probe = 127.0.0.1:1\n"
                          % (self.sub.endpoint, server.port))
        start = self.mark()
        self.reload(agent, "reload rejected")
        self.assertIn("reload rejected: %s: service/svc/interval: \"5x\" is not a duration" % path,
                      agent.output())
        # The same one-line error as at start-up.
        rc, out, err = self.run_check(path)
        self.assertEqual(rc, 2)
        self.assertIn("%s: service/svc/interval: \"5x\" is not a duration" % path, err)

        self.write_config([("svc", probe(server))], host="other-host")
        self.reload(agent, "reload rejected")
        self.assertIn("agent/name cannot change on reload (\"test-host\" -> \"other-host\"): "
                      "restart the agent", agent.output())

        # Still running the old configuration: beats as before, same connection.
        beats = [self.beat_with(lambda m: True, "beat", start=self.mark()) for _ in range(3)]
        for b in beats:
            self.assertEqual([s["name"] for s in b["msg"]["services"]], ["svc"])
            self.assertEqual(zbtest.beat_state(b, "svc"), "up")
            self.assertEqual(b["msg"]["host"], "test-host")
        self.assertEqual(server.used(), 1)
        self.assertEqual([m for m in self.sub.messages()[start:] if m["msg"]["type"] == "event"],
                         [])
        self.assertTrue(agent.alive())

        # A good file afterwards is taken.
        self.write_config([("svc", probe(server)), ("new", probe(server))])
        self.reload(agent)
        self.wait_event("new", "up", 5, start=start)
        self.stop_agent(agent)

    def run_check(self, path):
        return self.run_cmd([self.agent_bin, "-c", path, "--check-config"])

    def test_changed_target_restarts_but_keeps_state(self):
        old, new = PingServer(self), PingServer(self)
        agent = self.start_with([("svc", probe(old))])
        first = self.beat_with(self.all_up(["svc"]), "svc up")
        since = service_of(first, "svc")["since_ms"]
        start = self.mark()
        self.write_config([("svc", probe(new))])
        self.reload(agent)
        zbtest.wait_for(lambda: new.pings_since(0) >= 2, 5, "pings at the new target")
        zbtest.wait_for(lambda: old.open_ports() == [], 5, "the old connection closed")
        beat = self.beat_with(lambda m: True, "a beat", start=self.mark())
        self.assertEqual(service_of(beat, "svc")["state"], "up")
        self.assertEqual(service_of(beat, "svc")["since_ms"], since)
        self.assertEqual([m for m in self.sub.messages()[start:] if m["msg"]["type"] == "event"],
                         [], "no event: the state carried over")
        self.assertIn("svc: configuration changed: restarting its check", agent.output())

        # A target that is down: the new check's verdict arrives at once.
        refused = zbtest.free_port()
        self.write_config([("svc", dict(PING, probe="127.0.0.1:%d" % refused))])
        self.reload(agent)
        down = self.wait_event("svc", "down", 5, start=start)
        self.assertEqual((down["msg"]["from"], down["msg"]["reason"]), ("up", "refused"))
        self.stop_agent(agent)

    def test_monitor_and_beat_change(self):
        agent = self.start_with([], beat="200ms")
        first = self.wait_subscribed()
        sub2 = zbtest.Sub(self)
        self.write("agent.cfg", agent_config(sub2.endpoint, [], beat="300ms"))
        self.reload(agent)

        def new_beats():
            return [m for m in sub2.beats() if m["msg"]["interval_ms"] == 300]
        b = zbtest.wait_for(lambda: len(new_beats()) >= 4 and new_beats(), 10,
                            "4 beats at the new monitor")
        self.assertEqual(b[0]["msg"]["instance"], first["msg"]["instance"])
        self.assertGreater(b[0]["msg"]["seq"], first["msg"]["seq"])
        # At the new 300 ms, by the agent's send times (not this process's
        # receipt times): beats still at 200 ms walk off a 300 ms grid.
        zbtest.assert_beat_grid(self, [m["msg"]["time_ms"] for m in b], 300, 3)
        # The old monitor got nothing sent after the reload.
        self.assertEqual([m for m in self.sub.messages() if m["msg"].get("interval_ms") == 300],
                         [])
        self.stop_agent(agent)


class PushReloadTest(AgentCase):
    """Push and ttl services across reloads, and a listener that moves."""

    def client(self, port):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10 * zbtest.SLOW)
        self.addCleanup(sock.close)
        f = sock.makefile("rwb", buffering=0)
        return sock, f

    def ask(self, f, text):
        f.write((text + "\n").encode())
        return f.readline().decode().strip()

    def test_push_services_and_listen(self):
        port, port2 = zbtest.free_port(), zbtest.free_port()
        listen = "tcp://127.0.0.1:%d" % port
        services = [("worker", {"push": "1s"}), ("job", {"ttl": "5s"})]
        path = self.write("agent.cfg", agent_config(self.sub.endpoint, services, listen=listen))
        agent = self.start([self.agent_bin, "-c", path, "-v"], "agent")
        zbtest.wait_for(lambda: zbtest.port_open(port), 10, "the push listener")
        self.wait_subscribed()  # before it, PUB drops events (the first "up")
        _, worker = self.client(port)
        self.assertEqual(self.ask(worker, "HELLO worker"), "OK hello")
        _, job = self.client(port)
        self.assertEqual(self.ask(job, "HELLO job"), "OK hello")
        self.wait_event("worker", "up", 5)

        # worker's deadline changes (kept, connection and all), job goes.
        # A line just before the SIGHUP: the old 1.5 s deadline runs from
        # it, not from the HELLO, so only the signal and the reload have to
        # fit in it.
        start = self.mark()
        services = [("worker", {"push": "1s", "timeout": "3s"})]
        self.write("agent.cfg", agent_config(self.sub.endpoint, services, listen=listen))
        self.assertEqual(self.ask(worker, "PING"), "PONG")
        agent.send_signal(signal.SIGHUP)
        self.assertEqual(job.readline().decode().strip(), "ERR removed")
        removed = self.wait_event("job", "removed", 5, start=start)
        self.assertEqual(removed["msg"]["from"], "unknown")
        self.assertEqual(self.ask(worker, "PING"), "PONG")
        # The new deadline (3s, not 1.5s) is what holds now.
        t = time.monotonic()
        self.assertEqual(self.ask(worker, "PING"), "PONG")
        down = self.wait_event("worker", "down", 10, start=start)
        self.assertGreaterEqual(down["t"] - t, 3.0 - 0.01)
        self.assertEqual(worker.readline().decode().strip(), "ERR timeout")

        # listen moves: the old address is closed, the new one takes HELLOs.
        start = self.mark()
        listen2 = "tcp://127.0.0.1:%d" % port2
        self.write("agent.cfg", agent_config(self.sub.endpoint, services, listen=listen2))
        agent.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: zbtest.port_open(port2), 10, "the new push listener")
        zbtest.wait_for(lambda: not zbtest.port_open(port), 10, "the old listener closed")
        _, worker = self.client(port2)
        self.assertEqual(self.ask(worker, "HELLO worker"), "OK hello")
        self.wait_event("worker", "up", 5, start=start)

        # No push service left: the listener is closed.
        self.write("agent.cfg", agent_config(self.sub.endpoint, [], listen=listen2))
        self.assertEqual(self.ask(worker, "PING"), "PONG")  # the 3 s deadline from here
        agent.send_signal(signal.SIGHUP)
        self.assertEqual(worker.readline().decode().strip(), "ERR removed")
        zbtest.wait_for(lambda: not zbtest.port_open(port2), 10, "the listener closed")
        self.stop_agent(agent)

    def test_listen_taken_is_rejected(self):
        port = zbtest.free_port()
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        services = [("worker", {"push": "1s"})]
        listen = "tcp://127.0.0.1:%d" % port
        path = self.write("agent.cfg", agent_config(self.sub.endpoint, services, listen=listen))
        agent = self.start([self.agent_bin, "-c", path, "-v"], "agent")
        zbtest.wait_for(lambda: zbtest.port_open(port), 10, "the push listener")
        bad = "tcp://127.0.0.1:%d" % taken.getsockname()[1]
        self.write("agent.cfg", agent_config(self.sub.endpoint, services + [("x", {"ttl": "1h"})],
                                             listen=bad))
        agent.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: "reload rejected: push listener: bind %s: Address already in use"
                        % bad in agent.output(), 10, "the rejection")
        self.assertTrue(zbtest.port_open(port), "the old listener still serves")
        _, worker = self.client(port)
        self.assertEqual(self.ask(worker, "HELLO worker"), "OK hello")
        self.assertEqual(self.ask(worker, "HELLO x"), "ERR second-hello")
        self.stop_agent(agent)


if __name__ == "__main__":
    zbtest.main()
