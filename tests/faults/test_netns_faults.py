"""Fault injection with hosts as network namespaces (issue 11): the monitor
down for 30 s, a host cut off for 15 s, agent and monitor restarted with
outages open, one of two redundant monitors killed for good. In every case
the database ends up with exactly the outages of the agent's journal."""

import os
import signal
import time

import netns  # noqa: F401  (puts tests/integration on the path)
import zbtest
from netfault import NetFaultCase
from fault_helpers import host_outages_of

MONITOR_DOWN_S = float(os.environ.get("ZB_FAULT_MONITOR_DOWN_S", "30"))
CUT_S = float(os.environ.get("ZB_FAULT_CUT_S", "15"))


class NetnsFaultTest(NetFaultCase):
    def test_monitor_killed_while_three_go_down_and_one_recovers(self):
        for svc in "abc":
            self.service(1, svc)
        self.service(1, "d", up=False)
        monitor = self.start_ns_monitor()
        self.start_ns_agent(1, "abcd", beat="500ms")
        self.wait_states("h1", {"a": "up", "b": "up", "c": "up", "d": "down"})
        self.wait_matches("h1")

        monitor.stop(signal.SIGKILL)
        since = time.monotonic()
        mark = len(self.journal_events())
        for svc in "abc":
            self.service(1, svc, up=False)
            self.wait_transition(svc, "down", mark)
        self.service(1, "d")
        self.wait_transition("d", "up", mark)
        self.hold(since, MONITOR_DOWN_S)

        self.start_ns_monitor(name="monitor2")
        want = self.wait_matches("h1")
        for svc in "abc":
            self.assertIsNone(want[svc][-1][1], "%s still down" % svc)
        self.assertIsNotNone(want["d"][-1][1], "d recovered")

    def test_host_cut_off(self):
        for svc in "ab":
            self.service(1, svc)
        self.start_ns_monitor()
        self.start_ns_agent(1, "ab", beat="500ms")
        self.wait_states("h1", {"a": "up", "b": "up"})
        self.wait_matches("h1")
        self.wait_beating("h1")  # the monitor knows its interval: silence is 1.5 s

        self.net.link(1, False)
        since = time.monotonic()
        zbtest.wait_for(lambda: (self.host_row("h1") or {}).get("state") == "silent", 10,
                        "h1 silent")
        mark = len(self.journal_events())
        self.service(1, "a", up=False)          # a goes down and comes back unseen
        n = self.wait_transition("a", "down", mark)
        self.service(1, "a")
        self.wait_transition("a", "up", n)
        self.service(1, "b", up=False)          # b goes down unseen
        self.wait_transition("b", "down", mark)
        self.hold(since, CUT_S)

        self.net.link(1, True)
        zbtest.wait_for(lambda: (self.host_row("h1") or {}).get("state") == "alive", 30,
                        "h1 alive again")
        want = self.wait_matches("h1")
        # (A service may also blip down at start, before its listener runs.)
        self.assertIsNotNone(want["a"][-1][1], "a's outage during the cut, closed")
        self.assertIsNone(want["b"][-1][1], "b down since the cut")
        hosts = host_outages_of(self.outages(), "h1")
        self.assertEqual(len(hosts), 1, hosts)
        self.assertEqual(hosts[0]["end_reason"], "back")

    def test_agent_and_monitor_restarted_with_outages_open(self):
        self.service(1, "a", up=False)
        self.service(1, "b")
        monitor = self.start_ns_monitor()
        agent = self.start_ns_agent(1, "ab", beat="500ms")
        self.wait_states("h1", {"a": "down", "b": "up"})
        self.wait_matches("h1")
        monitor.stop(signal.SIGKILL)
        agent.stop(signal.SIGKILL)
        self.service(1, "a")                     # recovers while nobody watches
        self.service(1, "b", up=False)           # and b fails
        self.start_ns_agent(1, "ab", beat="500ms", name="agent2")
        mark = 0
        self.wait_transition("b", "down", mark)
        self.start_ns_monitor(name="monitor2")
        want = self.wait_matches("h1")
        self.assertIsNotNone(want["a"][-1][1], "a's outage closed by the new agent run")
        self.assertIsNone(want["b"][-1][1])

    def test_one_of_two_redundant_monitors_killed_for_good(self):
        db_b = os.path.join(self.tmp, "b.db")
        self.service(1, "a")
        self.service(1, "b")
        self.start_ns_monitor(name="monitor-a")
        monitor_b = self.start_ns_monitor(name="monitor-b", db=db_b, port=7410,
                                          replay_port=7413)
        self.start_ns_agent(1, "ab", monitors=((7400, 7403), (7410, 7413)), beat="500ms")
        self.wait_states("h1", {"a": "up", "b": "up"})
        self.wait_states("h1", {"a": "up", "b": "up"}, db=db_b)
        self.service(1, "a", up=False)
        self.wait_transition("a", "down")
        self.wait_matches("h1", db=db_b)
        monitor_b.stop(signal.SIGKILL)
        mark = len(self.journal_events())
        self.service(1, "a")
        n = self.wait_transition("a", "up", mark)
        self.service(1, "b", up=False)
        self.wait_transition("b", "down", n)
        want = self.wait_matches("h1")           # monitor A: the whole history
        self.assertIsNotNone(want["a"][-1][1])
        self.assertIsNone(want["b"][-1][1])

    def journal_events(self):
        from fault_helpers import journal_events
        return journal_events(self.journal)


if __name__ == "__main__":
    zbtest.main()
