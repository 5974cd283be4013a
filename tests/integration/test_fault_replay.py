"""Nothing lost across faults (issue 11): transitions a monitor missed while
it was down come back from the agent's journal, exactly once, with the
agent's own times; also after the agent itself restarted."""

import re
import signal

import zbtest
from fault_helpers import FaultCase, journal_events


class ReplayTest(FaultCase):
    def test_monitor_killed_while_services_change(self):
        servers = {n: zbtest.TcpServer(self) for n in ("a", "b", "c", "d")}
        servers["d"].set_mode("refuse")
        self.start_replaying_monitor()
        self.start_agent({n: s.port for n, s in servers.items()})
        self.wait_state("web-1", "a", "up", 10)
        self.wait_state("web-1", "d", "down", 10)
        self.wait_db_matches_journal()

        self.monitor.stop(signal.SIGKILL)
        mark = len(journal_events(self.journal))
        # a goes down and recovers, b and c go down, d recovers: all unseen.
        servers["a"].set_mode("refuse")
        n = self.wait_transition("a", "down", mark)
        servers["a"].set_mode("answer")
        self.wait_transition("a", "up", n)
        for name in ("b", "c"):
            servers[name].set_mode("refuse")
            self.wait_transition(name, "down", mark)
        servers["d"].set_mode("answer")
        self.wait_transition("d", "up", mark)

        self.start_replaying_monitor(name="monitor2")
        want = self.wait_db_matches_journal()
        self.assertEqual(len(want["a"]), 1)       # the outage that began and ended unseen
        self.assertIsNone(want["b"][0][1])        # still open
        self.assertIsNotNone(want["d"][0][1])     # closed while the monitor was away
        status = self.status()
        self.assertEqual(status[("web-1", "b")]["state"], "down")
        self.assertEqual(status[("web-1", "d")]["state"], "up")
        stats = self.stop_monitor()
        self.assertEqual(stats["db_errors"], 0)

    def test_agent_restart_replays_its_journal_from_disk(self):
        servers = {n: zbtest.TcpServer(self) for n in ("a", "b")}
        self.start_replaying_monitor()
        agent = self.start_agent({n: s.port for n, s in servers.items()})
        self.wait_state("web-1", "a", "up", 10)
        self.monitor.stop(signal.SIGKILL)
        mark = len(journal_events(self.journal))
        servers["a"].set_mode("refuse")
        self.wait_transition("a", "down", mark)
        # The agent dies too: only its journal on disk remembers.
        agent.stop(signal.SIGKILL)
        servers["a"].set_mode("answer")
        agent = self.start_agent({n: s.port for n, s in servers.items()}, name="agent2")
        self.wait_transition("a", "up", mark)
        self.start_replaying_monitor(name="monitor2")
        want = self.wait_db_matches_journal()
        self.assertEqual(len(want["a"]), 1)
        instances = {e["instance"] for e in journal_events(self.journal)}
        self.assertEqual(len(instances), 2)
        before = self.outages()

        # Offered again in full by a third run: nothing changes.
        agent.stop(signal.SIGTERM)
        agent3 = self.start_agent({n: s.port for n, s in servers.items()}, name="agent3")
        zbtest.wait_for(lambda: re.search(r"replay .*: journal of \d+ transitions acknowledged",
                                          agent3.output()), 20, "agent3's journal acknowledged")
        self.wait_db_matches_journal()
        after = self.outages()
        self.assertEqual([(o["id"], o["started_at"], o["ended_at"]) for o in before],
                         [(o["id"], o["started_at"], o["ended_at"]) for o in after])


if __name__ == "__main__":
    zbtest.main()
