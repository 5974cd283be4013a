"""Silences: `zbeat silence add/list/remove` against a running monitor. A
silenced outage is still recorded (marked silenced) but its alert is held;
removing the silence takes effect live and releases what is still down."""

import os

import zbtest
from monitor_helpers import AlertCase, WebhookReceiver, triggers


class AlertSilenceTest(AlertCase):

    def wait_log(self, text, timeout=10):
        zbtest.wait_for(lambda: text in self.monitor.output(), timeout, "log: %s" % text)

    def test_silence_holds_alerts_and_removing_it_releases_them(self):
        hook = WebhookReceiver(self)
        self.start_alerting([("hook", {"webhook": hook.url})])
        agent = self.fake("web-1", interval_ms=60000)
        for name in ("redis", "db", "cache"):
            agent.set(name, "up")
        agent.beat()
        self.wait_state("web-1", "cache", "up", 10)

        rc, out, err = self.cli("silence", "add", "--host", "web-*", "--service", "redis",
                                "--for", "1h", "--reason", "deploy")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^silence 1: web-\*/redis until \d{4}-\d\d-\d\dT")
        listed = self.cli_json("silence", "list")
        self.assertEqual(len(listed), 1)
        self.assertEqual((listed[0]["id"], listed[0]["host"], listed[0]["service"],
                          listed[0]["reason"], listed[0]["active"]),
                         (1, "web-*", "redis", "deploy", True))
        self.wait_log("silence 1 taken up")  # within a second, no restart

        agent.event("redis", "down")
        agent.event("db", "down")  # not silenced: alerted as usual
        zbtest.wait_for(lambda: hook.alerts(), 10, "db's alert")
        rows = self.wait_delivered(1, 10, "db's alert delivered")
        self.assertEqual(triggers(hook.alerts()), [("down", "web-1", "db")])
        held = [r for r in rows if r["service"] == "redis"][0]
        self.assertEqual([d["status"] for d in held["deliveries"]], ["held"])
        outages = {o["service"]: o for o in self.outages()}
        self.assertTrue(outages["redis"]["silenced"])  # recorded all the same
        self.assertFalse(outages["db"]["silenced"])
        rc, out, _ = self.cli("outages")
        self.assertIn("refused [silenced]", out)

        # Removed while redis is still down: its held alert goes out now.
        rc, out, err = self.cli("silence", "remove", "1")
        self.assertEqual((rc, out), (0, "silence 1 removed\n"), err)
        self.assertEqual(self.cli_json("silence", "list"), [])
        self.assertEqual(len(self.cli_json("silence", "list", "--all")), 1)
        zbtest.wait_for(lambda: len(hook.alerts()) >= 2, 10, "the released alert")
        self.assertEqual(hook.alerts()[1]["id"], held["id"])
        self.wait_log("silence 1 ended")
        agent.event("redis", "up")
        zbtest.wait_for(lambda: len(hook.alerts()) >= 3, 10, "redis's recovery")
        self.assertEqual(triggers(hook.alerts())[2], ("recovered", "web-1", "redis"))

        # A silence over the whole host: db's outage was alerted before it,
        # so its recovery is sent; cache's outage begins and ends inside
        # it: neither its down alert nor a recovery ever goes out.
        rc, _, err = self.cli("silence", "add", "--host", "web-1", "--for", "10m")
        self.assertEqual(rc, 0, err)
        self.wait_log("silence 2 taken up")
        agent.event("cache", "down")
        agent.event("cache", "up")
        agent.event("db", "up")
        zbtest.wait_for(lambda: len(hook.alerts()) >= 4, 10, "db's recovery")
        agent.event("marker", "up")
        self.wait_state("web-1", "marker", "up", 10)
        self.wait_delivered(4, 10, "all but the held delivered")
        self.assertEqual(triggers(hook.alerts())[3], ("recovered", "web-1", "db"))
        cache = [r for r in self.alerts() if r["service"] == "cache"]
        self.assertEqual([r["trigger"] for r in cache], ["down"])
        self.assertEqual(cache[0]["deliveries"][0]["status"], "held")
        rc, _, _ = self.cli("silence", "remove", "2")
        self.assertEqual(rc, 0)
        self.wait_log("silence 2 ended")
        agent.event("marker", "down")  # a later, unsilenced outage alerts
        zbtest.wait_for(lambda: len(hook.alerts()) >= 5, 10, "marker's alert")
        self.assertEqual(triggers(hook.alerts())[4], ("down", "web-1", "marker"))
        self.assertNotIn("cache", [a["service"] for a in hook.alerts()])
        self.stop_monitor()

    def test_silent_host_in_a_silence(self):
        hook = WebhookReceiver(self)
        self.start_alerting([("hook", {"webhook": hook.url})])
        rc, _, err = self.cli("silence", "add", "--host", "web-?", "--for", "1h")
        self.assertEqual(rc, 0, err)
        self.wait_log("silence 1 taken up")
        agent = self.fake("web-1", interval_ms=200)
        agent.set("redis", "up")
        agent.beat()
        self.wait_beating("web-1")
        self.wait_state("web-1", None, "silent", 10)
        self.assertTrue(self.outages()[0]["silenced"])
        rows = self.alerts()
        self.assertEqual([(r["trigger"], r["deliveries"][0]["status"]) for r in rows],
                         [("silent", "held")])
        # Lifting the silence while the host is still silent sends it.
        self.assertEqual(self.cli("silence", "remove", "1")[0], 0)
        zbtest.wait_for(lambda: hook.alerts(), 10, "the released host alert")
        self.assertEqual(triggers(hook.alerts()), [("silent", "web-1", None)])

    def test_silence_usage(self):
        self.start_monitor()
        cases = [
            (["silence"], 2, "silence needs add, list or remove"),
            (["silence", "mute"], 2, "unknown action 'mute'"),
            (["silence", "add", "--for", "1h"], 2, "silence add needs --host"),
            (["silence", "add", "--host", "web-1"], 2, "silence add needs --for"),
            (["silence", "add", "--host", "web 1", "--for", "1h"], 2, "is not a host name or"),
            (["silence", "add", "--host", "a", "--service", "$x", "--for", "1h"], 2,
             "--service: \"$x\""),
            (["silence", "add", "--host", "a", "--for", "soon"], 2, "--for: \"soon\""),
            (["silence", "add", "--host", "a", "--for", "500ms"], 2, "from 1s to 400d"),
            (["silence", "remove"], 2, "needs the silence's ID"),
            (["silence", "remove", "x"], 2, "\"x\" is not a silence ID"),
            (["silence", "remove", "99"], 1, "no active silence 99"),
            (["silence", "list", "--for", "1h"], 2, "--for and --reason are for silence add"),
            (["outages", "--all"], 2, "--all is for status and silence list"),
            (["alerts", "--host", "x"], 2, "alerts takes no filters"),
            (["alerts", "--open"], 2, "alerts takes no filters"),
        ]
        for args, code, expect in cases:
            rc, out, err = self.cli(*args)
            self.assertEqual(rc, code, "%s: %s" % (args, err))
            self.assertEqual(out, "")
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertIn(expect, err)
        # The CLI never creates a database, not even to write a silence.
        missing = os.path.join(self.tmp, "missing.db")
        rc, _, err = self.cli("silence", "add", "--host", "a", "--for", "1h", db=missing)
        self.assertEqual(rc, 1)
        self.assertIn("no such database", err)
        self.assertFalse(os.path.exists(missing))
        self.assertEqual(self.cli("alerts")[1], "no alerts\n")
        self.assertEqual(self.cli("silence", "list")[1], "no active silences\n")


if __name__ == "__main__":
    zbtest.main()
