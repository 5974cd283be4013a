"""Thin beats (issue 22, protocol v2): a monitor restarted mid-stream, while
its agent sends thin beats, converges within full-every beats. Between the
two monitor runs a service changed and the monitor did not hear it (no
replay here); the agent's stream went on to a second subscriber, so the
full beat after the change went out while the monitor was away.

What the restarted monitor hears first depends on ZeroMQ: the agent's PUB
connects, and a connecting socket keeps its pipe (and what was queued on
it, up to the high-water mark) across the peer's restart, so the missed
full beat usually arrives after all; when it does not (a longer outage, a
new address), the monitor has only thin beats, keeps what its database
says (unit_fleet's thin test pins that down) and has the table with the
next full beat. Either way: the state is right within full-every beats,
thin beats keep the host alive, nothing is invented. Real agent, real monitor, real TCP services; loopback
only, so no namespaces and no root needed."""

import re
import signal
import time
import unittest

import netns  # noqa: F401  (puts tests/integration on the path)
import zbtest
from agent_helpers import agent_config
from monitor_helpers import MonitorCase

FULL_EVERY = 10
BEAT_MS = 200


class ThinRestartTest(MonitorCase):
    def agent_log_has(self, agent, pattern):
        return re.search(pattern, agent.output())

    def test_restarted_monitor_converges_on_thin_beats(self):
        a, b = zbtest.TcpServer(self), zbtest.TcpServer(self)
        for s in (a, b):
            self.addCleanup(s.close)
        services = [(name, {"probe": "127.0.0.1:%d" % s.port, "interval": "100ms", "fails": 1})
                    for name, s in (("a", a), ("b", b))]
        other = self.sub("tcp://127.0.0.1:%d" % zbtest.free_port())
        cfg = self.write("agent.cfg", agent_config(
            "%s,%s" % (self.endpoint, other.endpoint), services, host="web-1",
            beat="%dms" % BEAT_MS,
            keys=[("full-every", str(FULL_EVERY))]))
        self.start_monitor(["-v"])
        agent = self.start([zbtest.bin("zbeat-agent"), "-c", cfg, "-v"], "agent")
        self.wait_states("web-1", {"a": "up", "b": "up"}, 15)
        other.wait(lambda r: r["msg"].get("type") == "beat" and r["msg"].get("v") == 2, 10,
                   "a thin beat at the other subscriber")

        # The monitor dies; b goes down while nobody listens, and the
        # agent's full beat after the change is lost with it.
        self.monitor.stop(signal.SIGKILL)
        b.set_mode("refuse")
        zbtest.wait_for(lambda: self.agent_log_has(agent, r"\bb: up -> down"), 10,
                        "the agent sees b down")
        # The full beat that says so went out (to the other subscriber), and
        # a thin beat after it: the restarted monitor cannot have it.
        full = other.wait(lambda r: r["msg"].get("type") == "beat" and "services" in r["msg"] and
                          any(s["name"] == "b" and s["state"] == "down"
                              for s in r["msg"]["services"]), 10, "the full beat with b down")
        other.wait(lambda r: r["msg"].get("v") == 2 and
                   r["msg"].get("digest") == full["msg"]["digest"], 10, "a thin beat after it")
        self.assertEqual(self.status()[("web-1", "b")]["state"], "up",
                         "the database still has b up (what the monitor last knew)")

        # Restarted: thin beats keep web-1 alive, the next full beat
        # (at most FULL_EVERY beats away) brings b down.
        restarted = time.monotonic()
        monitor2 = self.start_monitor(["-v"], name="monitor2")
        self.wait_state("web-1", "b", "down", FULL_EVERY * BEAT_MS / 1000.0 + 15 * zbtest.SLOW,
                        "b down after the restart")
        took = time.monotonic() - restarted
        self.assertEqual(self.status()[("web-1", "a")]["state"], "up")
        self.assertEqual(self.status()[("web-1", None)]["state"], "alive")

        stats = self.stop_monitor(monitor2)
        self.assertGreater(stats["thin"], 0, "the restarted monitor heard thin beats")
        self.assertEqual(stats["decode_errors"], 0)
        # One outage for b, opened by the full beat, not invented before it.
        rows = [r for r in self.outages() if r["service"] == "b"]
        self.assertEqual(len(rows), 1, rows)
        self.assertIsNone(rows[0]["ended_at"])
        print("converged %.2f s after the restart" % took)


if __name__ == "__main__":
    unittest.main()
