"""Agents that stop and never come back (issue 18, point 2): one `stopped`
alert for a host stopped longer than monitor/stopped-alert, never repeated,
none for a host back in time."""

import os

import zbtest
from monitor_helpers import AlertCase, WebhookReceiver
from test_alert_alertmanager import AM_BIN, Alertmanager, notifications, wait_resent


#  The beat interval the fake agents announce: a stop is what these tests
#  check, never a silence, which a loaded machine could otherwise bring
#  (liveness x 1 s without a message: another alert, another state).
LONG = 3600000


class StoppedAlertTest(AlertCase):

    def stopped_alerts(self):
        return [a["host"] for a in self.alerts() if a["trigger"] == "stopped"]

    def test_one_alert_for_a_host_stopped_for_good(self):
        self.start_alerting(stopped_alert="2s")
        a = self.fake("a-1", interval_ms=LONG)
        c = self.fake("c-1", interval_ms=LONG)
        for agent in (a, c):
            agent.set("redis", "up")
            agent.beat()
        self.wait_state("a-1", None, "alive", 10)
        self.wait_state("c-1", None, "alive", 10)
        a.stop()
        # c is back long before 2 s: no alert for it, ever. Its stop and its
        # new run's first beat go out together, so it is back within
        # milliseconds of the stop (waiting for "stopped" in the database
        # in between could itself take 2 s on a loaded machine).
        c.stop()
        c.restart()
        c.beat()
        zbtest.wait_for(lambda: "host stopped: c-1 (planned-stop)" in self.monitor.output(), 10,
                        "c's stop taken")
        zbtest.wait_for(lambda: [h for h in self.cli_json("hosts") if h["host"] == "c-1" and
                                 h["instance"] == c.instance and h["state"] == "alive"], 10,
                        "c's new run alive")
        zbtest.wait_for(lambda: self.stopped_alerts(), 10, "a stopped alert")
        self.assertEqual(self.stopped_alerts(), ["a-1"])
        alert = [x for x in self.alerts() if x["trigger"] == "stopped"][0]["alert"]
        self.assertEqual(alert["state"], "stopped")
        self.assertGreaterEqual(alert["duration_s"], 2.0)
        self.assertTrue(alert["summary"].startswith("STOPPED host a-1"), alert)
        # b stops later: its alert comes 2 s on; by then a's would have
        # been repeated, if it were.
        b = self.fake("b-1", interval_ms=LONG)
        b.beat()
        self.wait_state("b-1", None, "alive", 10)
        b.stop()
        zbtest.wait_for(lambda: "b-1" in self.stopped_alerts(), 10, "b's stopped alert")
        self.assertEqual(sorted(self.stopped_alerts()), ["a-1", "b-1"])
        # A restarted monitor finds a-1 still stopped: the alert was made.
        self.stop_monitor()
        self.start_alerting(stopped_alert="2s")
        c.beat()
        self.wait_state("c-1", None, "alive", 10)
        d = self.fake("d-1", interval_ms=LONG)
        d.beat()
        self.wait_state("d-1", None, "alive", 10)
        d.stop()
        zbtest.wait_for(lambda: "d-1" in self.stopped_alerts(), 10, "d's stopped alert")
        self.assertEqual(sorted(self.stopped_alerts()), ["a-1", "b-1", "d-1"])

    def test_zero_turns_it_off(self):
        self.start_alerting(stopped_alert="0", repeat="1s")
        a = self.fake("a-1", interval_ms=LONG)
        a.beat()
        self.wait_state("a-1", None, "alive", 10)
        a.stop()
        self.wait_state("a-1", None, "stopped", 10)
        # Something later to wait for: an outage and its reminder (1 s on),
        # then 2 s more of ticks.
        b = self.fake("b-1", interval_ms=LONG)
        b.set("redis", "up")
        b.beat()
        b.event("redis", "down")
        zbtest.wait_for(lambda: [x for x in self.alerts() if x["trigger"] == "reminder"
                                 and x["alert"]["reminder"] >= 3], 15, "a third reminder")
        self.assertEqual(self.stopped_alerts(), [])

    def test_alertmanager_restates_a_stop_until_the_host_is_back_or_forgotten(self):
        if not os.path.exists(AM_BIN):
            self.skipTest("needs prometheus-alertmanager (scripts/deps.sh)")
        hook = WebhookReceiver(self)
        am = Alertmanager(self, hook.url)
        self.start_alerting([("am", {"alertmanager": am.url, "resend": "2s",
                                     "backoff-max": "1s"})], stopped_alert="1s")
        a = self.fake("a-1", interval_ms=LONG)
        b = self.fake("b-1", interval_ms=LONG)
        for agent in (a, b):
            agent.beat()
            self.wait_state(agent.host, None, "alive", 10)
            agent.stop()
        firing = zbtest.wait_for(lambda: len(am.alerts()) == 2 and am.alerts(), 20,
                                 "two stops in Alertmanager")
        self.assertEqual(sorted((x["labels"]["alertname"], x["labels"]["host"]) for x in firing),
                         [("ZbeatHostStopped", "a-1"), ("ZbeatHostStopped", "b-1")])
        # Restated every resend while stopped: Alertmanager keeps them.
        wait_resent(am)
        self.assertEqual(len(am.alerts()), 2)
        # a-1 comes back, b-1 is forgotten: each resolved, once.
        a.restart()
        a.beat()
        self.wait_state("a-1", None, "alive", 10)
        self.cli("hosts", "forget", "b-1")
        zbtest.wait_for(lambda: not am.alerts(), 20, "both resolved in Alertmanager")
        resolved = [r["alert"] for r in self.alerts() if r["trigger"] == "resolved"]
        self.assertEqual(sorted((r["host"], r["reason"], r["resolves"]) for r in resolved),
                         [("a-1", "back", "stopped"), ("b-1", "forgotten", "stopped")])
        zbtest.wait_for(lambda: notifications(hook, "resolved"), 20, "a resolved notification")


if __name__ == "__main__":
    zbtest.main()
