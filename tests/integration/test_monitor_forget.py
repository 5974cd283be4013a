"""`zbeat hosts forget HOST` (issue 18, point 2): a decommissioned host
leaves status, hosts, the API and the metrics, the running monitor drops it
and does not bring it back, its outage history stays (an open outage ends
`forgotten`); a host heard again is simply new."""

import zmq

import zbtest
from http_helpers import HttpCase, check_metrics_text
from monitor_helpers import AlertCase, service_outages


class ForgetTest(HttpCase, AlertCase):

    def hosts(self):
        return [h["host"] for h in self.cli_json("hosts")]

    def test_forget_a_decommissioned_host(self):
        replay = "tcp://127.0.0.1:%d" % zbtest.free_port()
        config = self.monitor_config(replay=replay)
        self.start_http_monitor(["-c", config, "-v"])
        # Long intervals: neither host may go silent unasked (web-1 "alive"
        # is what forget refuses; a silent host's services are "unknown").
        old = self.fake("old-1", interval_ms=3600000)
        web = self.fake("web-1", interval_ms=3600000)
        for agent in (old, web):
            agent.set("redis", "up")
            agent.beat()
        old.event("redis", "down")
        self.wait_outages(lambda r: service_outages(r, "old-1"), 10, "old-1's outage")
        old.stop()
        self.wait_state("old-1", None, "stopped", 10)
        self.wait_state("web-1", None, "alive", 10)
        # Its agent left a replay backlog: the monitor is "behind".
        dealer = zmq.Context.instance().socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        self.addCleanup(dealer.close)
        dealer.connect(replay)
        dealer.send_multipart([b"STATUS", b"old-1", old.instance.encode(), b"5"])
        zbtest.wait_for(lambda: self.cli_json("monitor")["hosts_replaying"] == 1, 10,
                        "old-1's backlog counted")
        self.assertIn("behind", self.cli("status")[1])

        # Refused: unknown, alive (without --force), bad usage.
        rc, _, err = self.cli("hosts", "forget", "nope-1")
        self.assertEqual(rc, 1, err)
        self.assertIn("no host nope-1", err)
        rc, _, err = self.cli("hosts", "forget", "web-1")
        self.assertEqual(rc, 1, err)
        self.assertIn("web-1 is alive", err)
        self.assertIn("--force", err)
        self.assertEqual(self.cli("hosts", "forget")[0], 2)
        self.assertEqual(self.cli("hosts", "forget", "old-1", "--json")[0], 2)
        self.assertEqual(self.cli("status", "--force")[0], 2)

        rc, out, err = self.cli("hosts", "forget", "old-1")
        self.assertEqual(rc, 0, err)
        self.assertIn("old-1 forgotten", out)
        # The running monitor drops it from memory.
        zbtest.wait_for(lambda: "host forgotten: old-1" in self.monitor.output(), 10,
                        "the monitor forgets old-1")
        # It writes again (web-1 changes), and old-1 stays gone.
        web.event("redis", "down")
        self.wait_state("web-1", "redis", "down", 10)
        self.assertNotIn("old-1", self.hosts())
        self.assertFalse([k for k in self.status() if k[0] == "old-1"])
        self.assertFalse([r for r in self.get_json("/api/v1/status") if r["host"] == "old-1"])
        metrics = self.get("/metrics").text()
        check_metrics_text(self, metrics)
        self.assertNotIn('host="old-1"', metrics)
        self.assertIn('host="web-1"', metrics)
        rc, out, _ = self.cli("status")
        self.assertNotIn("old-1", out)
        self.assertNotIn("behind", out)
        self.assertEqual(self.cli_json("monitor")["hosts_replaying"], 0)
        # Its history stays; its open outage ended as forgotten.
        rows = service_outages(self.outages(), "old-1")
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["end_reason"], "forgotten")
        self.assertIsNotNone(rows[0]["ended_at"])

        # A restarted monitor does not bring it back either.
        self.stop_monitor()
        self.start_http_monitor(["-c", config, "-v"], name="monitor2")
        web.beat()
        self.assertNotIn("old-1", self.hosts())

        # Heard again: simply new.
        old.restart()
        old.set("redis", "up")
        old.beat()
        self.wait_state("old-1", None, "alive", 10)
        self.wait_state("old-1", "redis", "up", 10)
        self.assertEqual(len(service_outages(self.outages(), "old-1")), 1)

    def test_force_forgets_an_alive_host_that_comes_back_as_new(self):
        self.start_monitor()
        web = self.fake("web-1", interval_ms=3600000)  # never silent here
        web.set("redis", "up")
        web.beat()
        self.wait_state("web-1", "redis", "up", 10)
        rc, out, err = self.cli("hosts", "forget", "web-1", "--force")
        self.assertEqual(rc, 0, err)
        zbtest.wait_for(lambda: "host forgotten: web-1" in self.monitor.output(), 10,
                        "the monitor forgets web-1")
        self.assertNotIn("web-1", self.hosts())
        web.beat()
        self.wait_state("web-1", "redis", "up", 10)


if __name__ == "__main__":
    zbtest.main()
