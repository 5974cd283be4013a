"""zbeat-agent against zbtest.TcpServer: each failure mode is seen within its
bound, with the right reason, and recovery is seen too."""

import os
import signal
import socket
import threading
import time

import zbtest
from agent_helpers import AgentCase

PING = {"send": '"PING\\r\\n"', "expect": '"+PONG"'}


class AgentFailureTest(AgentCase):

    def start_one(self, server, interval="1s", timeout="300ms", fails=3, ping=True, **extra):
        keys = dict(PING) if ping else {}
        keys.update(probe="127.0.0.1:%d" % server.port, interval=interval, timeout=timeout,
                    fails=fails, **extra)
        agent = self.start_agent([("svc", keys)])
        self.wait_subscribed()
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "svc") == "up", 10, "a beat with svc up")
        return agent

    def refuse(self, server):
        """The server refuses from now on (its listener and every connection
        closed): the agent's down event, refused, and the time it was asked."""
        start = self.mark()
        after = time.time()
        server.set_mode("refuse")
        down = self.wait_event("svc", "down", 10, start=start)
        self.assertEqual(down["msg"]["reason"], "refused")
        return down, after

    def test_hang_is_down_after_fails_intervals(self):
        server = zbtest.TcpServer(self)
        interval, timeout, fails = 1.0, 0.2, 3
        agent = self.start_one(server, "1s", "200ms", fails)
        start = self.mark()
        # Wall clock on both sides of the switch, against the agent's own
        # at_ms: the reader thread's receipt time is no part of the bound.
        before = time.time()
        server.set_mode("hang")
        after = time.time()
        down = self.wait_event("svc", "down", 10, start=start)
        self.assertEqual(down["msg"]["reason"], "timeout")
        self.assertIn("no reply within", down["msg"]["error"])
        # The first missed ping comes within one interval of the hang, then
        # one per interval: down after (fails-1) to fails intervals, plus
        # the timeout. Catches a verdict before `fails` misses (too early)
        # and one that waits for an extra interval (too late: the bound
        # leaves half an interval of scheduling slack, not a whole one).
        at = zbtest.at_s(down)
        self.assertGreaterEqual(at - before, (fails - 1) * interval)
        self.assertLess(at - after, fails * interval + timeout + 0.5 * zbtest.SLOW,
                        "down %.3fs after the hang" % (at - after))

        start = self.mark()
        after = time.time()
        server.set_mode("answer")
        up = self.wait_event("svc", "up", 5, start=start)
        # While down the backoff is capped at one interval: a growing
        # backoff would be two intervals or more by now.
        self.assertLess(zbtest.at_s(up) - after, interval + timeout + 0.5 * zbtest.SLOW)
        self.stop_agent(agent)

    def test_refuse_is_down_at_once(self):
        server = zbtest.TcpServer(self)
        # A long interval: only the held connection can see it in time.
        agent = self.start_one(server, "30s", "500ms")
        down, after = self.refuse(server)
        self.assertIn("Connection refused", down["msg"]["error"])
        # At once, by the agent's clock: the next check is about 30 s
        # after the first; a third of that leaves any load's wake-ups room.
        self.assertLess(zbtest.at_s(down) - after, 10)
        start = self.mark()
        server.set_mode("answer")
        self.wait_event("svc", "up", 5, start=start)
        self.stop_agent(agent)

    def test_close_mode_is_down_closed(self):
        """A server that accepts and closes at once: every check fails with
        "closed", so down after about `fails` intervals; the agent must not
        spin reconnecting meanwhile."""
        server = zbtest.TcpServer(self)
        interval, fails = 0.5, 3
        agent = self.start_one(server, "500ms", "200ms", fails)
        start = self.mark()
        accepted = server.accepted
        after = time.time()
        server.set_mode("close")
        down = self.wait_event("svc", "down", 10, start=start)
        took = zbtest.at_s(down) - after
        self.assertEqual(down["msg"]["reason"], "closed")
        # `fails` checks take at most fails intervals; an extra interval of
        # waiting (or a missed verdict) goes past the slack.
        self.assertLess(took, fails * interval + 0.5 * zbtest.SLOW,
                        "down %.3fs after close mode" % took)
        # Reconnects are paced (one at once, then per interval or backoff):
        # a spinning agent would make thousands of connections here.
        self.assertLess(server.accepted - accepted, 4 * fails)
        # Down it stays, with reconnects capped at one per interval (counted
        # over the time that really passed, however late this thread is).
        t0, n0 = time.monotonic(), server.accepted
        zbtest.wait_for(lambda: time.monotonic() - t0 > 1.5, 5, "1.5 s in close mode")
        made, took = server.accepted - n0, time.monotonic() - t0
        self.assertLess(made, took / interval + 4, "%d connections in %.1fs" % (made, took))
        self.assertEqual([m for m in self.sub.events() if m["msg"]["to"] == "up"
                          and m["t"] > down["t"]], [])
        start = self.mark()
        server.set_mode("answer")
        self.wait_event("svc", "up", 5, start=start)
        self.stop_agent(agent)

    def down_in_beat(self, timeout=10):
        """The svc status of the first beat that says down (the event itself
        may have gone out before the subscription arrived)."""
        m = self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                          zbtest.beat_state(m, "svc") == "down", timeout, "a beat with svc down")
        return m["msg"]["services"][0]

    def test_bad_response(self):
        server = zbtest.TcpServer(self, reply=b"-ERR nope\r\n")
        agent = self.start_agent([("svc", dict(PING, probe="127.0.0.1:%d" % server.port,
                                                interval="200ms", timeout="100ms", fails=2))])
        svc = self.down_in_beat()
        self.assertEqual(svc["reason"], "bad-response")
        self.assertIn("bad response \"-ERR nope", svc["error"])
        self.stop_agent(agent)

    def test_connection_only_connects_per_check(self):
        """Without a ping nothing is held (hold = no by default): every
        interval a connect, closed at once; a refused one is down."""
        server = zbtest.TcpServer(self)
        # Many fails: a refusal counted as a failure would be down 19
        # intervals (5.7 s) after the first, one that is down at once at
        # the next check.
        interval, fails = 0.3, 20
        agent = self.start_one(server, "300ms", "100ms", fails=fails, ping=False)
        beat = self.sub.beats()[-1]["msg"]["services"][0]
        self.assertIsInstance(beat["rtt_us"], int)  # the connect time
        t0, n0 = time.monotonic(), server.accepted
        zbtest.wait_for(lambda: server.accepted >= n0 + 4, 5, "four more checks")
        # Paced at one connect per interval, counted over the time that
        # really passed (a server thread late to accept at t0 makes a few
        # more count, not a spin's hundreds or twice the rate).
        zbtest.wait_for(lambda: time.monotonic() - t0 > 2.0, 5, "2 s of checks")
        made, took = server.accepted - n0, time.monotonic() - t0
        self.assertLess(made, took / interval + 4, "%d connects in %.2fs: faster than the "
                        "interval" % (made, took))
        zbtest.wait_for(lambda: server.connections() == 0, 5, "no connection held")
        down, after = self.refuse(server)
        # Down at the next check (agent's clock), not after `fails` of them.
        self.assertLess(zbtest.at_s(down) - after, interval + 1.0 * zbtest.SLOW)
        start = self.mark()
        server.set_mode("answer")
        self.wait_event("svc", "up", 5, start=start)
        self.stop_agent(agent)

    def test_connection_only_held(self):
        server = zbtest.TcpServer(self)
        # A long interval: only the held connection can see it in time.
        agent = self.start_one(server, "30s", "300ms", ping=False, hold="yes")
        beat = self.sub.beats()[-1]["msg"]["services"][0]
        self.assertEqual(beat["state"], "up")
        self.assertIsInstance(beat["rtt_us"], int)  # the connect time
        # The agent is up once its connect is done; the server thread
        # accepts it when it gets to it.
        zbtest.wait_for(lambda: server.connections() == 1, 5, "the held connection accepted")
        down, after = self.refuse(server)
        # The held connection's close is seen at once (agent's clock), not
        # at the next check about 30 s after the first.
        self.assertLess(zbtest.at_s(down) - after, 10)
        start = self.mark()
        server.set_mode("answer")
        self.wait_event("svc", "up", 5, start=start)
        zbtest.wait_for(lambda: server.connections() == 1, 5, "one held connection")
        self.stop_agent(agent)

    def test_connection_only_to_a_closing_server_does_not_spin(self):
        """Connection-only: a service that accepts and closes at once is up
        at every connect (that is all such a probe asks), but reconnects
        stay paced at one per interval."""
        server = zbtest.TcpServer(self, mode="close")
        interval = 0.2
        agent = self.start_one(server, "200ms", "100ms", ping=False)
        t0, n0 = time.monotonic(), server.accepted
        zbtest.wait_for(lambda: time.monotonic() - t0 > 2.0, 5, "2 s against a closing server")
        took, made = time.monotonic() - t0, server.accepted - n0
        # One at-once reconnect per interval at most, plus the checks.
        self.assertLess(made, 2 * took / interval + 4, "%d connections in %.1fs" % (made, took))
        self.stop_agent(agent)

    def test_connect_timeout(self):
        """A connect that never completes counts as a timeout; `fails` of
        them in a row make the service down. A listener whose accept queue
        is full drops further SYNs, so connects to it hang."""
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(3):
            c = socket.socket()
            self.addCleanup(c.close)
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        # Wait until one filler's handshake is done and the queue is full.
        zbtest.wait_for(lambda: any(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and
                                    c.send(b"") == 0 for c in fillers), 5, "a full accept queue")
        agent = self.start_agent([("svc", {"probe": "127.0.0.1:%d" % port, "interval": "300ms",
                                           "timeout": "100ms", "fails": 2})])
        svc = self.down_in_beat()
        self.assertEqual(svc["reason"], "timeout")
        self.assertIn("connect: no answer within 100ms", svc["error"])
        self.stop_agent(agent)

    def test_sigstop_gives_no_false_timeout(self):
        """A reply that arrived while the agent was stopped is read before
        the reply timeout that expired meanwhile is looked at.

        The server stops the agent as soon as a ping arrives, only then
        answers, and lets it run again after longer than the timeout: every
        such reply waits in the agent's socket while its timeout expires,
        whatever the load (the ping reaches the server well within the
        500 ms timeout on any machine). An agent that looks at the expired
        timeout first reports a timeout here."""
        port = zbtest.free_port()
        listener = socket.create_server(("127.0.0.1", port))
        self.addCleanup(listener.close)
        stops = 5
        done = threading.Event()
        agent_pid = []

        def serve():
            stopped = 0
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    while True:
                        try:
                            data = conn.recv(100)
                        except OSError:
                            break
                        if not data:
                            break
                        freeze = agent_pid and stopped < stops
                        if freeze:
                            os.kill(agent_pid[0], signal.SIGSTOP)
                        try:
                            conn.sendall(b"+PONG\r\n")
                        except OSError:
                            break
                        if freeze:
                            # The fault's length, not a wait: past the timeout.
                            time.sleep(0.7)
                            os.kill(agent_pid[0], signal.SIGCONT)
                            stopped += 1
                            if stopped == stops:
                                done.set()
        threading.Thread(target=serve, daemon=True).start()
        agent = self.start_agent([("svc", dict(PING, probe="127.0.0.1:%d" % port,
                                                interval="1s", timeout="500ms", fails=1))])
        self.wait_subscribed()
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "svc") == "up", 10, "svc up")
        start = self.mark()
        agent_pid.append(agent.pid)
        self.assertTrue(done.wait(20 * zbtest.SLOW), "%d stops during a reply" % stops)
        n = len(self.sub.beats())
        zbtest.wait_for(lambda: len(self.sub.beats()) >= n + 3, 5, "3 more beats")
        self.assertEqual([m["msg"] for m in self.sub.messages()[start:]
                          if m["msg"]["type"] == "event"], [])
        self.assertNotIn("check failed", agent.output())
        self.stop_agent(agent)


if __name__ == "__main__":
    zbtest.main()
