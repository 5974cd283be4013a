"""A lossy link (issue 11): 10% packet loss and 100 ms +- 100 ms jitter on
one host's link, both ways, for ZB_FAULT_LOSSY_S seconds (default 120), with
the default tuning (beat 1s, liveness 5, heartbeats): no false silent host,
no false down service, no outage at all. The link is shaped by tc netem
where the kernel has sch_netem, else by zb-netem on a router namespace in the
host's path (netns.py); the output says which."""

import os
import time

import netns  # noqa: F401  (puts tests/integration on the path)
import zbtest
from netfault import NetFaultCase
from fault_helpers import host_outages_of, journal_events

LOSSY_S = float(os.environ.get("ZB_FAULT_LOSSY_S", "120"))


class LossyLinkTest(NetFaultCase):
    def test_ten_percent_loss_and_jitter(self):
        self.net.host(1, shaped=True)
        for svc in "ab":
            self.service(1, svc)
        self.start_ns_monitor()
        agent = self.start_ns_agent(1, "ab")  # default beat
        self.wait_states("h1", {"a": "up", "b": "up"})
        self.wait_beating("h1")
        how = self.net.shape(1, loss=10, delay=100, jitter=100)
        since = time.monotonic()
        self.hold(since, LOSSY_S)
        counts = self.net.counts(1)  # zb-netem's; None under tc netem
        # The host was heard all along: its state never left alive.
        row = self.host_row("h1")
        self.assertEqual(row["state"], "alive")
        self.assertEqual(host_outages_of(self.outages(), "h1"), [], "false silent host")
        self.assertEqual([r for r in self.outages() if r["host"] == "h1"], [], "false outage")
        downs = [e for e in journal_events(self.journal) if e.get("to") == "down"]
        self.assertEqual(downs, [], "false down in the agent's own record")
        self.net.shape(1)
        if counts:
            # The link really was lossy, both ways (a: host -> monitor).
            for side in "ab":
                n, lost = counts["%s_in" % side], counts["%s_lost" % side]
                self.assertGreater(n, 50, counts)
                self.assertGreater(lost, 0, counts)
                if n >= 400:  # ~4 standard deviations around 10%
                    self.assertTrue(0.04 <= lost / n <= 0.16, counts)
        # Reported, not asserted: how often the heartbeat gave up on the link.
        drops = agent.output().count("monitor unreachable")
        print("lossy link (%s): %d heartbeat disconnects in %.0f s; packets %s" % (
            "tc netem" if how == "netem" else "zb-netem", drops, LOSSY_S,
            "host->monitor %d in, %d lost; monitor->host %d in, %d lost" % (
                counts["a_in"], counts["a_lost"], counts["b_in"], counts["b_lost"])
            if counts else "(tc netem: not counted)"))


if __name__ == "__main__":
    zbtest.main()
