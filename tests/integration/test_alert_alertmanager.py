"""The alertmanager channel against the real Alertmanager (Debian's
prometheus-alertmanager), started here on loopback with a temp config and
storage, its webhook receiver a test HTTP server: an outage fires an alert
with zbeat's labels and one notification, its recovery resolves it; two
redundant monitors page once; an Alertmanager down for 20 s gets the alert
from the outbox when it is back, once."""

import json
import os
import shutil
import time
import unittest
import urllib.request

import zbtest
from monitor_helpers import AlertCase, FakeAgent, WebhookReceiver, now_ms

AM_BIN = "/usr/bin/prometheus-alertmanager"

AM_CONFIG = """route:
  receiver: hook
  group_by: [alertname, host, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
"""


class Alertmanager:
    """A real Alertmanager on a free loopback port, no clustering."""

    def __init__(self, case, receiver_url):
        self.case = case
        self.port = zbtest.free_port()
        self.storage = os.path.join(case.tmp, "am-data")
        self.config = case.write("alertmanager.yml", AM_CONFIG % receiver_url)
        self.proc = None
        self.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.proc = self.case.start(
            [AM_BIN, "--config.file", self.config, "--storage.path", self.storage,
             "--web.listen-address", "127.0.0.1:%d" % self.port,
             "--cluster.listen-address=", "--log.level=warn"], "alertmanager")
        zbtest.wait_for(lambda: self.ready() or not self.proc.alive(), 30, "alertmanager ready")
        self.case.assertTrue(self.proc.alive(), self.proc.output())

    def stop(self):
        self.proc.stop()

    def ready(self):
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def alerts(self):
        """Its active alerts (/api/v2/alerts)."""
        with urllib.request.urlopen(self.url + "/api/v2/alerts?active=true&silenced=true"
                                    "&inhibited=true", timeout=5) as r:
            return [a for a in json.loads(r.read()) if a["status"]["state"] == "active"]


def notifications(receiver, status=None):
    """Alertmanager's webhook notifications: (status, [alert labels])."""
    out = []
    for p in receiver.posts():
        body = p["body"] or {}
        if status is None or body.get("status") == status:
            out.append((body.get("status"), [a["labels"] for a in body.get("alerts", [])]))
    return out


def wait_resent(am, times=2):
    """Until the monitor restated its firing alert `times` times (each post
    moves the alert's updatedAt)."""
    seen = [am.alerts()[0]["updatedAt"]]

    def moved():
        now = am.alerts()[0]["updatedAt"]
        if now != seen[-1]:
            seen.append(now)
        return len(seen) > times
    zbtest.wait_for(moved, 20, "the firing alert restated")


@unittest.skipUnless(os.path.exists(AM_BIN), "needs prometheus-alertmanager (scripts/deps.sh)")
class AlertmanagerTest(AlertCase):

    def channel(self, am, **keys):
        return [("am", dict({"alertmanager": am.url, "resend": "2s", "backoff-max": "1s"},
                            **keys))]

    def test_outage_fires_and_recovery_resolves(self):
        hook = WebhookReceiver(self)
        am = Alertmanager(self, hook.url)
        self.start_alerting(self.channel(am), http="127.0.0.1:%d" % zbtest.free_port())
        agent = self.fake("web-1", interval_ms=60000)
        agent.set("redis", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        agent.event("redis", "down", reason="refused", error="connect: Connection refused")
        fired = zbtest.wait_for(lambda: am.alerts(), 20, "the alert in Alertmanager")[0]
        outage = self.outages("--service", "redis")[0]
        self.assertEqual(fired["labels"], {"alertname": "ZbeatServiceDown", "host": "web-1",
                                           "service": "redis", "severity": "critical",
                                           "zbeat_monitor": "zbeat"})
        self.assertEqual(fired["annotations"]["reason"], "refused")
        self.assertEqual(fired["annotations"]["outage_id"], str(outage["id"]))
        self.assertTrue(fired["annotations"]["summary"].startswith("DOWN web-1/redis"))
        self.assertTrue(fired["generatorURL"].startswith("http://127.0.0.1:"), fired)
        zbtest.wait_for(lambda: notifications(hook, "firing"), 20, "the notification")
        # Restated every resend (2 s) while firing: still one alert, and
        # Alertmanager does not page again for it.
        wait_resent(am)
        self.assertEqual(len(am.alerts()), 1)
        self.assertEqual(len(notifications(hook, "firing")), 1)

        agent.event("redis", "up")
        zbtest.wait_for(lambda: notifications(hook, "resolved"), 20, "the resolved notification")
        zbtest.wait_for(lambda: not am.alerts(), 20, "the alert resolved in Alertmanager")
        resolved = notifications(hook, "resolved")
        self.assertEqual(resolved[0][1][0]["alertname"], "ZbeatServiceDown")
        self.assertEqual(len(notifications(hook, "firing")), 1)
        rows = self.alerts()
        self.assertEqual([(r["trigger"], [d["status"] for d in r["deliveries"]]) for r in rows],
                         [("down", ["sent"]), ("recovered", ["sent"])])
        self.stop_monitor()

    def test_two_redundant_monitors_page_once(self):
        hook = WebhookReceiver(self)
        am = Alertmanager(self, hook.url)
        self.start_alerting(self.channel(am))
        # The second monitor: its own database and endpoint, same channel.
        db2 = os.path.join(self.tmp, "zbeat2.db")
        ep2 = "tcp://127.0.0.1:%d" % zbtest.free_port()
        cfg = os.path.join(self.tmp, "monitor.cfg")
        second = self.start([self.monitor_bin, "--db", db2, "--bind", ep2, "-c", cfg, "-v"],
                            "monitor2")
        zbtest.wait_for(lambda: "listening on" in second.output(), 10, "monitor2 listening")
        a1 = self.fake("web-1", interval_ms=60000)
        a2 = FakeAgent(ep2, "web-1", 60000)
        self.fakes.append(a2)
        a2.wait_subscribed()
        for a in (a1, a2):
            a.set("redis", "up")
            a.beat()
        self.wait_state("web-1", "redis", "up", 10)
        t_down = now_ms()
        for a in (a1, a2):
            a.event("redis", "down", at_ms=t_down)
        zbtest.wait_for(lambda: notifications(hook, "firing"), 20, "a notification")
        for db in (self.db, db2):
            zbtest.wait_for(lambda: [r for r in json.loads(self.cli("alerts", "--json", db=db)[1])
                                     if r["deliveries"] and
                                     r["deliveries"][0]["status"] == "sent"],
                            20, "the down alert delivered by the monitor on %s" % db)
        t_up = now_ms()
        for a in (a1, a2):
            a.event("redis", "up", at_ms=t_up)
        zbtest.wait_for(lambda: notifications(hook, "resolved"), 20, "the resolved notification")
        self.assertEqual(len(am.alerts()), 0)
        self.assertEqual(len(notifications(hook, "firing")), 1, notifications(hook))
        self.assertEqual(len(notifications(hook, "resolved")), 1, notifications(hook))
        self.assertEqual(len(notifications(hook, "firing")[0][1]), 1)
        self.stop_monitor()
        self.stop_monitor(second)

    def test_alertmanager_down_for_20s_gets_the_alert_once(self):
        hook = WebhookReceiver(self)
        am = Alertmanager(self, hook.url)
        self.start_alerting(self.channel(am))
        agent = self.fake("web-1", interval_ms=60000)
        agent.set("redis", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        am.stop()
        t_stop = time.monotonic()
        agent.event("redis", "down")
        zbtest.wait_for(lambda: [r for r in self.alerts() if r["deliveries"] and
                                 r["deliveries"][0]["attempts"] >= 3], 20, "failed attempts")
        row = self.alerts()[0]["deliveries"][0]
        self.assertEqual(row["status"], "pending")
        self.assertTrue(row["last_error"].startswith(am.url + ": "), row)
        # Down for 20 s: the length of the outage is the scenario.
        time.sleep(max(0.0, 20.0 - (time.monotonic() - t_stop)))
        self.assertEqual(notifications(hook), [])
        am.start()
        zbtest.wait_for(lambda: am.alerts(), 20, "the alert in Alertmanager after its return")
        zbtest.wait_for(lambda: notifications(hook, "firing"), 20, "the notification")
        self.wait_delivered(1, 10, "the down alert delivered")
        # Resends go on (2 s); after some, still one notification.
        wait_resent(am)
        self.assertEqual(len(notifications(hook, "firing")), 1, notifications(hook))
        self.assertEqual(len(am.alerts()), 1)
        self.stop_monitor()


    def test_documented_route_is_valid(self):
        """docs/alerts.md's worked route passes amtool check-config."""
        text = open(os.path.join(os.environ.get("ZB_SOURCE_DIR", "."), "docs", "alerts.md")).read()
        yml = text.split("A worked route", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
        path = self.write("route.yml", yml)
        rc, out, err = self.run_cmd(["amtool", "check-config", path])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("1 inhibit rules", out)


if __name__ == "__main__":
    zbtest.main()
