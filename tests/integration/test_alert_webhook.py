"""Alert delivery to real HTTP receivers: one down alert and one recovery per
incident with the right fields, a receiver that is down for 20 s, a monitor
killed with alerts still pending. Receivers count duplicates by alert id."""

import collections
import signal

import zbtest
from monitor_helpers import AlertCase, WebhookReceiver, now_ms, parse_rfc3339_ms, triggers


class AlertWebhookTest(AlertCase):

    def test_one_down_and_one_recovery_per_incident(self):
        hook = WebhookReceiver(self)
        chat = WebhookReceiver(self)
        self.start_alerting([("pager", {"webhook": hook.url, "timeout": "5s"}),
                             ("chat", {"webhook": chat.url, "template": "slack"})])
        agent = self.fake("web-1", interval_ms=60000)  # not silent: no silent alert
        agent.set("redis", "up")
        agent.set("ssh", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        t_down = now_ms() - 1500
        agent.event("redis", "down", at_ms=t_down, reason="refused",
                    error="connect: Connection refused")
        for _ in range(3):
            agent.beat()  # repeating the down state: no new alert
        down = zbtest.wait_for(lambda: hook.alerts(), 10, "the down alert")[0]
        self.assertEqual(down["trigger"], "down")
        self.assertEqual((down["host"], down["service"], down["state"]), ("web-1", "redis", "down"))
        self.assertEqual(down["reason"], "refused")
        self.assertEqual(down["error"], "connect: Connection refused")
        self.assertEqual(parse_rfc3339_ms(down["started_at"]), t_down)
        self.assertIsNone(down["ended_at"])
        outage = self.outages()[0]
        self.assertEqual(down["outage_id"], outage["id"])
        self.assertEqual(down["id"], "web-1/redis/%d/down" % outage["id"])
        self.assertIn("DOWN web-1/redis", down["summary"])
        self.assertEqual(hook.posts()[0]["headers"]["Content-Type"], "application/json")

        t_up = t_down + 4321
        agent.event("redis", "up", at_ms=t_up)
        zbtest.wait_for(lambda: len(hook.alerts()) >= 2, 10, "the recovery")
        rec = hook.alerts()[1]
        self.assertEqual(rec["trigger"], "recovered")
        self.assertEqual(rec["id"], "web-1/redis/%d/recovered" % outage["id"])
        self.assertEqual((rec["state"], rec["reason"]), ("up", "up"))
        self.assertEqual(parse_rfc3339_ms(rec["started_at"]), t_down)
        self.assertEqual(parse_rfc3339_ms(rec["ended_at"]), t_up)
        self.assertEqual(rec["duration_s"], 4.321)
        # The chat channel got the same two, as Slack-style messages.
        zbtest.wait_for(lambda: len(chat.posts()) >= 2, 10, "two chat messages")
        texts = [p["body"]["text"] for p in chat.posts()]
        self.assertTrue(texts[0].startswith("DOWN web-1/redis: refused"), texts)
        self.assertTrue(texts[1].startswith("RECOVERED web-1/redis after 4.3s"), texts)
        self.assertEqual(set(chat.posts()[0]["body"]), {"text"})

        # Nothing more arrives; `zbeat alerts` says what was sent where.
        agent.event("ssh", "up")  # a marker: all before it was handled
        agent.beat()
        self.wait_delivered(2, 10, "both alerts sent")
        self.assertEqual(len(hook.alerts()), 2)
        self.assertEqual(len(chat.posts()), 2)
        rows = self.alerts()
        self.assertEqual([r["trigger"] for r in rows], ["down", "recovered"])
        for r in rows:
            self.assertEqual(sorted(d["channel"] for d in r["deliveries"]), ["chat", "pager"])
            for d in r["deliveries"]:
                self.assertEqual((d["status"], d["attempts"], d["result"]), ("sent", 1, 200))
                self.assertIsNotNone(d["sent_at"])
        self.assertEqual(rows[0]["alert"], hook.alerts()[0])  # the payload as stored
        rc, out, _ = self.cli("alerts")
        self.assertEqual(rc, 0)
        self.assertIn("web-1/redis/%d/down" % outage["id"], out)
        self.assertIn("sent", out)

    def test_receiver_down_for_20s_gets_every_alert_once(self):
        hook = WebhookReceiver(self)
        self.start_alerting([("hook", {"webhook": hook.url, "timeout": "2s",
                                       "backoff-max": "2s"})], flap_threshold=0)
        # A long beat interval: the host stays alive while the test waits.
        agent = self.fake("web-1", interval_ms=60000)
        for name in ("a", "b", "c"):
            agent.set(name, "up")
        agent.beat()
        self.wait_state("web-1", "c", "up", 10)
        hook.stop()
        t_stop = time_now()
        # Incidents while the receiver is away, spread over its absence.
        for name in ("a", "b", "c"):
            agent.event(name, "down")
            self.wait_outages(lambda r, n=name: any(o["service"] == n for o in r), 10, name)
            zbtest.wait_for(lambda: time_now() > t_stop + 4 * ("abc".index(name) + 1), 30,
                            "time passes")
            agent.event(name, "up")
        self.wait_outages(lambda r: len(r) == 3 and all(o["ended_at"] for o in r), 10,
                          "three closed outages")
        # Attempts failed meanwhile, with backoff (not one per millisecond).
        failing = [d for r in self.alerts() for d in r["deliveries"]]
        self.assertEqual(len(failing), 6)
        self.assertTrue(all(d["status"] == "pending" for d in failing))
        self.assertTrue(any(d["attempts"] >= 2 for d in failing))
        self.assertTrue(all(d["attempts"] < 15 for d in failing), failing)
        self.assertIn("Couldn't connect", failing[0]["last_error"])
        zbtest.wait_for(lambda: time_now() > t_stop + 20, 30, "20 s of absence")
        hook.start()
        t_back = time_now()
        self.wait_delivered(6, 15, "everything delivered")
        t_done = time_now()
        counts = collections.Counter(a["id"] for a in hook.alerts())
        self.assertEqual(len(counts), 6, counts)
        self.assertEqual(set(counts.values()), {1}, "duplicates: %s" % counts)
        # In the order they were made: each down before its recovery.
        self.assertEqual(triggers(hook.alerts()),
                         [(t, "web-1", s) for s in "abc" for t in ("down", "recovered")])
        # Backoff is capped at 2 s: delivered soon after the receiver is back
        # (an attempt or two, plus CLI polling slack); an uncapped backoff
        # would be waiting 8 s or more after 20 s of failures.
        self.assertLess(t_done - t_back, 2.0 * 2 + 3.0 * zbtest.SLOW)

    def test_monitor_killed_with_alerts_pending_delivers_them_after_restart(self):
        hook = WebhookReceiver(self)
        hook.stop()
        channels = [("hook", {"webhook": hook.url, "backoff-max": "1s"})]
        self.start_alerting(channels)
        agent = self.fake("web-1", interval_ms=60000)  # not silent: no silent alert
        agent.set("redis", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        agent.event("redis", "down")
        zbtest.wait_for(lambda: [r for r in self.alerts() if r["deliveries"][0]["attempts"] >= 2],
                        15, "two failed attempts")
        self.monitor.stop(signal.SIGKILL)
        hook.start()
        self.start_alerting(channels, name="monitor-2")
        self.resync(agent)
        rows = self.wait_delivered(1, 15, "the pending alert delivered after the restart")
        self.assertEqual([r["trigger"] for r in rows], ["down"])
        self.assertGreaterEqual(rows[0]["deliveries"][0]["attempts"], 3)
        agent.event("redis", "up")
        self.wait_delivered(2, 15, "the recovery")
        counts = collections.Counter(a["id"] for a in hook.alerts())
        outage = self.outages("--service", "redis")[0]["id"]
        self.assertEqual(counts, {"web-1/redis/%d/down" % outage: 1,
                                  "web-1/redis/%d/recovered" % outage: 1})
        self.stop_monitor()


def time_now():
    import time
    return time.monotonic()


if __name__ == "__main__":
    zbtest.main()
