"""Watch the watcher (issue 11): an agent notices a frozen, dead or
restarted monitor through ZMTP heartbeats and socket events, logs
"monitor unreachable" / "monitor back" per endpoint, and carries on."""

import os
import re
import signal
import time

import zbtest
from agent_helpers import agent_config
from monitor_helpers import MonitorCase, parse_rfc3339_ms

# zb_watch.h: a 200 ms beat gets the 500 ms minimum heartbeat interval and
# the 5 s minimum timeout.
HB_IVL = 0.5
HB_TIMEOUT = 5.0


class WatchTest(MonitorCase):
    def start_agent(self, monitors, host="web-1"):
        return self.start_agent_config(agent_config(monitors, [], host=host, beat="200ms"), "agent")

    def log_lines(self, proc, pattern, start=0):
        """[(wall seconds, line)] of proc's log lines matching pattern."""
        rows = []
        for line in proc.output().splitlines()[start:]:
            if re.search(pattern, line):
                rows.append((parse_rfc3339_ms(line.split()[0]) / 1000.0, line))
        return rows

    def wait_log(self, proc, pattern, timeout, start=0):
        return zbtest.wait_for(lambda: self.log_lines(proc, pattern, start), timeout,
                               "%s logs %r" % (proc.name, pattern))[0]

    def test_frozen_monitor_is_unreachable_then_back(self):
        self.start_monitor()
        agent = self.start_agent(self.endpoint)
        self.wait_log(agent, r"monitor connected: tcp://127\.0\.0\.1:%d" % self.port, 10)
        self.wait_beating("web-1")
        # A frozen monitor keeps its TCP connections (the kernel still ACKs):
        # only the heartbeat can tell.
        # Wall time on both sides of the signal: this thread may be
        # preempted between the two, and each bound takes the safe side.
        before = time.time()
        self.monitor.send_signal(signal.SIGSTOP)
        frozen = time.time()
        when, line = self.wait_log(agent, r"monitor unreachable: tcp://127\.0\.0\.1:%d" % self.port,
                                   HB_TIMEOUT + 15)
        self.assertGreaterEqual(when - before, HB_TIMEOUT - HB_IVL - 0.2, line)
        self.assertLess(when - frozen, HB_TIMEOUT + 2 * HB_IVL + 1.0 * zbtest.SLOW, line)
        self.assertIn("no heartbeat", line)
        self.assertTrue(agent.alive())
        # Logged once per change, not once per retry.
        # Taken before the signal: "back" can come before this thread runs
        # again, and never before the monitor runs.
        thawed = time.time()
        self.monitor.send_signal(signal.SIGCONT)
        when, line = self.wait_log(agent, r"monitor back: tcp://127\.0\.0\.1:%d" % self.port,
                                   HB_TIMEOUT + 35)
        self.assertGreaterEqual(when, thawed - 0.002, line)  # log stamps in whole ms
        self.assertEqual(len(self.log_lines(agent, r"monitor unreachable")), 1)
        # The monitor hears the agent again: its last_seen moves past the thaw.
        def heard():
            rows = [h for h in self.cli_json("hosts") if h["host"] == "web-1"]
            return rows and rows[0]["state"] == "alive"
        zbtest.wait_for(heard, 20, "web-1 alive after the thaw")

    def test_killed_monitor_then_restarted(self):
        self.start_monitor()
        agent = self.start_agent(self.endpoint)
        self.wait_log(agent, r"monitor connected", 10)
        self.monitor.stop(signal.SIGKILL)
        killed = time.time()
        when, line = self.wait_log(agent, r"monitor unreachable", 10)
        # The kernel closes a killed process's sockets: no heartbeat needed.
        # (The heartbeat timeout would take HB_TIMEOUT.)
        self.assertLess(when - killed, 2.0 * zbtest.SLOW, line)
        self.start_monitor(name="monitor2")
        self.wait_log(agent, r"monitor back: tcp://127\.0\.0\.1:%d" % self.port, 15)
        self.wait_beating("web-1")

    def test_two_monitors_watched_separately(self):
        other_port = zbtest.free_port()
        other_db = os.path.join(self.tmp, "other.db")
        self.start_monitor()
        first = self.monitor
        other = self.start([self.monitor_bin, "--db", other_db, "--bind",
                            "tcp://127.0.0.1:%d" % other_port], "monitor-b")
        zbtest.wait_for(lambda: "listening on" in other.output(), 10, "monitor-b listening")
        agent = self.start_agent("%s, tcp://127.0.0.1:%d" % (self.endpoint, other_port))
        zbtest.wait_for(lambda: len(self.log_lines(agent, r"monitor connected")) == 2, 10,
                        "both monitors connected")
        other.stop(signal.SIGKILL)
        when, line = self.wait_log(agent, r"monitor unreachable", 10)
        self.assertIn(":%d" % other_port, line)
        self.assertEqual(len(self.log_lines(agent, r"monitor unreachable")), 1)
        # The survivor goes on hearing the agent.
        self.assertTrue(first.alive())
        self.wait_beating("web-1")


if __name__ == "__main__":
    zbtest.main()
