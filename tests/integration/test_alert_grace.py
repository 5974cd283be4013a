"""A channel's grace (alert/NAME/after): an outage over within it sends
nothing on that channel (recorded all the same, its delivery shown held
back); a longer one sends its down alert once the grace is over, then its
recovery. A channel without grace is told at once, as before."""

import time

import zbtest
from monitor_helpers import AlertCase, WebhookReceiver


class AlertGraceTest(AlertCase):

    def test_short_outage_pages_nobody_long_one_pages_once(self):
        pager = WebhookReceiver(self)
        log = WebhookReceiver(self)
        self.start_alerting([("pager", {"webhook": pager.url, "after": "3s"}),
                             ("log", {"webhook": log.url})])
        agent = self.fake("web-1", interval_ms=60000)
        agent.set("redis", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)

        # A 1 s restart: the outage is real (its length is the scenario,
        # not a wait for something). Nothing waits in between: a wait for
        # the log channel's down alert there would add its delivery time,
        # and past 2 s of that the outage outlasts the pager's grace.
        agent.event("redis", "down", reason="refused")
        time.sleep(1.0)
        agent.event("redis", "up")
        zbtest.wait_for(lambda: len(log.alerts()) >= 2, 10, "the down alert and its recovery "
                        "on the channel without grace")
        self.assertEqual([a["trigger"] for a in log.alerts()], ["down", "recovered"])
        first = self.outages("--service", "redis")[0]
        self.assertIsNotNone(first["ended_at"])  # recorded all the same
        rows = {r["trigger"]: r for r in self.alerts()}
        held = [d for d in rows["down"]["deliveries"] if d["channel"] == "pager"]
        self.assertEqual(held[0]["status"], "held", rows["down"])
        self.assertTrue(held[0]["last_error"].startswith("held back: over in"), held[0])
        self.assertIn("within after = 3.0s", held[0]["last_error"])
        self.assertEqual([d["channel"] for d in rows["recovered"]["deliveries"]], ["log"])
        rc, out, _ = self.cli("alerts")
        self.assertEqual(rc, 0)
        self.assertIn("held back", out)

        # A 5 s outage: the pager hears of it once the grace is over.
        t0 = time.monotonic()
        agent.event("redis", "down", reason="refused")
        down = zbtest.wait_for(lambda: pager.posts(), 10, "the down alert after the grace")[0]
        self.assertGreaterEqual(down["t"] - t0, 2.9)
        # Per channel, alerts go in order: had the first outage's down gone
        # out, it would have come before this one.
        self.assertEqual(len(pager.posts()), 1)
        self.assertEqual(down["body"]["trigger"], "down")
        second = self.outages("--service", "redis")[0]
        self.assertNotEqual(second["id"], first["id"])
        self.assertEqual(down["body"]["outage_id"], second["id"])
        time.sleep(max(0.0, 5.0 - (time.monotonic() - t0)))
        agent.event("redis", "up")
        zbtest.wait_for(lambda: len(pager.posts()) >= 2, 10, "its recovery")
        self.wait_delivered(4, 10, "everything settled")
        self.assertEqual([p["body"]["trigger"] for p in pager.posts()], ["down", "recovered"])
        self.assertEqual([p["body"]["outage_id"] for p in pager.posts()], [second["id"]] * 2)
        self.assertEqual([a["trigger"] for a in log.alerts()],
                         ["down", "recovered", "down", "recovered"])
        self.stop_monitor()


if __name__ == "__main__":
    zbtest.main()
