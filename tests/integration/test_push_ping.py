"""zbeat-ping and the C client (zbeat-client-example) against a fake agent
listener (pushtest.LineServer) that records the exact lines they send."""

import os
import signal
import time

import pushtest
import zbtest


def agent_arg(server):
    return "127.0.0.1:%d" % server.port


def pings(lines):
    return [l for l in lines if l == "PING"]


class Checkin(zbtest.TestCase):
    def test_acknowledged_checkin_exits_0(self):
        server = pushtest.LineServer(self)
        rc, out, err = self.run_cmd([zbtest.bin("zbeat-ping"), "--agent", agent_arg(server),
                                     "checkin", "nightly-backup"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        conn = server.wait_eof(5, "the client to close after its check-in")
        self.assertEqual(conn["lines"], ["HELLO nightly-backup", "CHECKIN"])

    def test_agent_from_environment(self):
        server = pushtest.LineServer(self)
        rc, _, err = self.run_cmd([zbtest.bin("zbeat-ping"), "checkin", "job"],
                                  env={"ZBEAT_AGENT": "tcp://127.0.0.1:%d" % server.port})
        self.assertEqual(rc, 0, err)
        self.assertEqual(server.lines(), ["HELLO job", "CHECKIN"])

    def test_unknown_service_exits_1(self):
        server = pushtest.LineServer(self, reject={"job"})
        rc, _, err = self.run_cmd([zbtest.bin("zbeat-ping"), "--agent", agent_arg(server),
                                   "checkin", "job"])
        self.assertEqual(rc, 1)
        self.assertIn("ERR unknown-service", err)
        self.assertEqual(server.lines(), ["HELLO job"])

    def test_no_agent_exits_1_at_once(self):
        port = zbtest.free_port()
        start = time.monotonic()
        rc, _, err = self.run_cmd([zbtest.bin("zbeat-ping"), "--agent", "127.0.0.1:%d" % port,
                                   "checkin", "job"])
        self.assertEqual(rc, 1)
        self.assertIn("Connection refused", err)
        self.assertLess(time.monotonic() - start, 2 * zbtest.SLOW)

    def test_silent_agent_times_out(self):
        server = pushtest.LineServer(self, mode="nopong")
        start = time.monotonic()
        rc, _, err = self.run_cmd([zbtest.bin("zbeat-ping"), "--agent", agent_arg(server),
                                   "--timeout", "500ms", "checkin", "job"])
        took = time.monotonic() - start
        self.assertEqual(rc, 1)
        self.assertIn("no reply in time", err)
        self.assertGreaterEqual(took, 0.45)
        self.assertLess(took, 3 * zbtest.SLOW)
        self.assertEqual(server.lines(), ["HELLO job", "CHECKIN"])

    def test_quiet_says_nothing(self):
        port = zbtest.free_port()
        rc, out, err = self.run_cmd([zbtest.bin("zbeat-ping"), "-q", "--agent",
                                     "127.0.0.1:%d" % port, "checkin", "job"])
        self.assertEqual((rc, out, err), (1, "", ""))


class Usage(zbtest.TestCase):
    def test_bad_usage_exits_2_with_one_message(self):
        ping = zbtest.bin("zbeat-ping")
        for args in ([], ["checkin"], ["run", "w"], ["run", "w", "--"], ["frobnicate", "x"],
                     ["checkin", "-bad-name"], ["checkin", "a/b"], ["checkin", "x", "extra"],
                     ["--every", "5", "run", "w", "--", "true"],
                     ["--timeout", "0s", "checkin", "x"], ["--agent", "nowhere", "checkin", "x"],
                     ["--agent", "127.0.0.1:99999", "checkin", "x"], ["--bogus", "checkin", "x"]):
            rc, out, err = self.run_cmd([ping] + args)
            self.assertEqual(rc, 2, "%s: %s" % (args, err))
            self.assertEqual(out, "")
            self.assertTrue(err.startswith("zbeat-ping: "), err)
            self.assertEqual(len(err.strip().splitlines()), 2, err)  # message + hint

    def test_help_and_version(self):
        ping = zbtest.bin("zbeat-ping")
        rc, out, _ = self.run_cmd([ping, "--help"])
        self.assertEqual(rc, 0)
        self.assertIn("checkin NAME", out)
        rc, out, _ = self.run_cmd([ping, "--version"])
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("zbeat-ping "))


class Run(zbtest.TestCase):
    def ping_run(self, server, cmd, every="200ms", extra=()):
        return [zbtest.bin("zbeat-ping"), "--agent", agent_arg(server), "--every", every,
                *extra, "run", "worker", "--"] + cmd

    def test_exit_0_says_bye_after_steady_pings(self):
        server = pushtest.LineServer(self)
        rc, _, err = self.run_cmd(self.ping_run(server, ["sh", "-c", "sleep 1.5"]))
        self.assertEqual(rc, 0, err)
        conn = server.connections()[0]
        lines = conn["lines"]
        self.assertEqual(lines[0], "HELLO worker interval=200ms")
        self.assertEqual(lines[-1], "BYE")
        self.assertEqual(set(lines[1:-1]), {"PING"})
        # One PING per 200 ms of the run, counted against how long the run
        # really took (HELLO to BYE as received: the command's own start-up
        # stretches under load): a stalled pinger sends too few, a spinning
        # or bursting one too many. 1.5 s on time gives 7.
        span = conn["times"][-1] - conn["times"][0]
        n = len(pings(lines))
        self.assertGreaterEqual(n, min(6, span / 0.2 - 2), (span, lines))
        self.assertLessEqual(n, span / 0.2 + 2, (span, lines))
        # No long silence between PINGs (receipt times, so this server's
        # thread lateness is in them: a whole second is a stall, not load).
        times = [t for l, t in zip(lines, conn["times"]) if l == "PING"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertLess(max(gaps), 1.0 * zbtest.SLOW, gaps)
        self.assertEqual(len(server.connections()), 1)

    def test_non_zero_exit_closes_without_bye(self):
        server = pushtest.LineServer(self)
        rc, _, err = self.run_cmd(self.ping_run(server, ["sh", "-c", "sleep 0.5; exit 3"]))
        self.assertEqual(rc, 3, err)
        conn = server.wait_eof(5, "the connection to close")
        self.assertEqual(conn["lines"][0], "HELLO worker interval=200ms")
        self.assertNotIn("BYE", conn["lines"])
        self.assertEqual(set(conn["lines"][1:]), {"PING"})

    def test_crash_closes_without_bye(self):
        server = pushtest.LineServer(self)
        rc, _, err = self.run_cmd(self.ping_run(server, ["sh", "-c", "sleep 0.3; kill -SEGV $$"]))
        self.assertEqual(rc, 128 + signal.SIGSEGV, err)
        conn = server.wait_eof(5, "the connection to close")
        self.assertNotIn("BYE", conn["lines"])

    def test_hanging_command_keeps_pinging_until_terminated(self):
        server = pushtest.LineServer(self)
        proc = self.start(self.ping_run(server, ["sleep", "60"]), "zbeat-ping")
        server.wait_lines(lambda l: len(pings(l)) >= 5, 10, "5 PINGs while the command hangs")
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
            children = f.read().split()
        self.assertEqual(len(children), 1)
        # SIGTERM goes on to the command, which dies of it: no BYE.
        rc = proc.stop(signal.SIGTERM)
        self.assertEqual(rc, 128 + signal.SIGTERM)
        self.assertFalse(os.path.exists("/proc/%s" % children[0]), "the command survived")
        conn = server.wait_eof(5, "the connection to close")
        self.assertNotIn("BYE", conn["lines"])

    def test_command_runs_without_agent(self):
        port = zbtest.free_port()
        marker = os.path.join(self.tmp, "ran")
        start = time.monotonic()
        rc, _, err = self.run_cmd([zbtest.bin("zbeat-ping"), "--agent", "127.0.0.1:%d" % port,
                                   "run", "worker", "--", "touch", marker])
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(marker))
        self.assertIn("cannot reach the agent", err)
        self.assertLess(time.monotonic() - start, 3 * zbtest.SLOW)

    def test_late_agent_is_found(self):
        server = pushtest.LineServer(self, mode="refuse")
        proc = self.start(self.ping_run(server, ["sleep", "60"]), "zbeat-ping")
        zbtest.wait_for(lambda: "cannot reach" in proc.output(), 10, "the failure to be logged")
        server.set_mode("agent")
        server.wait_lines(lambda l: len(pings(l)) >= 1, 10, "HELLO and PING once it listens")
        self.assertEqual(server.lines()[0], "HELLO worker interval=200ms")
        # One line per change, not one per retry.
        self.assertEqual(proc.output().count("cannot reach"), 1, proc.output())

    def test_reconnects_after_agent_restart(self):
        server = pushtest.LineServer(self)
        self.start(self.ping_run(server, ["sleep", "60"]), "zbeat-ping")
        server.wait_lines(lambda l: len(pings(l)) >= 2, 10, "PINGs on the first connection")
        server.close_all()
        closed = time.monotonic()
        conn = server.wait_lines(lambda l: l[:1] == ["HELLO worker interval=200ms"], 10,
                                 "a second connection", index=1)
        # Backoff starts at 100 ms: back soon (scheduling slack on top); a
        # backoff not reset, or a wait for a long one, goes past it.
        self.assertLess(conn["times"][0] - closed, 0.1 + 0.5 * zbtest.SLOW)
        server.wait_lines(lambda l: len(pings(l)) >= 2, 10, "PINGs on the second connection",
                          index=1)

    def test_agent_that_stops_answering_is_left(self):
        server = pushtest.LineServer(self, mode="nopong")
        self.start(self.ping_run(server, ["sleep", "60"]), "zbeat-ping")
        # No PONG within one interval: reconnect and HELLO again.
        server.wait_lines(lambda l: l[:1] == ["HELLO worker interval=200ms"], 10,
                          "a second connection", index=1)
        first = server.connections()[0]
        self.assertEqual(first["lines"], ["HELLO worker interval=200ms", "PING"])

    def test_err_from_agent_reconnects(self):
        server = pushtest.LineServer(self)
        proc = self.start(self.ping_run(server, ["sleep", "60"]), "zbeat-ping")
        server.wait_lines(lambda l: len(pings(l)) >= 1, 10, "a PING")
        server.send_all("ERR replaced\n")
        server.wait_lines(lambda l: l[:1] == ["HELLO worker interval=200ms"], 10,
                          "a second connection", index=1)
        self.assertIn("agent said: ERR replaced", proc.output())

    def test_command_not_found_exits_127(self):
        server = pushtest.LineServer(self)
        rc, _, err = self.run_cmd(self.ping_run(server, ["/nonexistent/cmd", "x"]))
        self.assertEqual(rc, 127)
        self.assertIn("/nonexistent/cmd", err)
        conn = server.wait_eof(5, "the connection to close")
        self.assertNotIn("BYE", conn["lines"])


class ClientLibrary(zbtest.TestCase):
    def example(self, server, seconds):
        return [zbtest.bin("zbeat-client-example"), "127.0.0.1", str(server.port), "worker",
                str(seconds)]

    def test_planned_stop_says_bye(self):
        server = pushtest.LineServer(self)
        rc, out, err = self.run_cmd(self.example(server, 2))
        self.assertEqual(rc, 0, err)
        # The client has exited; the server thread may not have read its
        # last line yet.
        lines = server.wait_lines(lambda l: l[-1:] == ["BYE"], 5, "BYE")["lines"]
        self.assertEqual(lines[0], "HELLO worker interval=1000ms")
        self.assertEqual(lines[-1], "BYE")
        self.assertIn("PING", lines)

    def test_crash_says_no_bye(self):
        server = pushtest.LineServer(self)
        proc = self.start(self.example(server, 60), "example")
        server.wait_lines(lambda l: l[:1] == ["HELLO worker interval=1000ms"], 10, "HELLO")
        proc.send_signal(signal.SIGUSR1)
        self.assertEqual(proc.wait(), 1)
        conn = server.wait_eof(5, "the connection to close")
        self.assertNotIn("BYE", conn["lines"])

    def test_sigterm_is_a_planned_stop(self):
        server = pushtest.LineServer(self)
        proc = self.start(self.example(server, 60), "example")
        server.wait_lines(lambda l: l[:1] == ["HELLO worker interval=1000ms"], 10, "HELLO")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(), 0)
        # Its last line, once the server thread has read it.
        server.wait_lines(lambda l: l[-1:] == ["BYE"], 5, "BYE as the last line")


if __name__ == "__main__":
    zbtest.main()
