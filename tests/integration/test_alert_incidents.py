"""One alert per incident: a silent host with five services is one alert (and
one recovery); a service flapping ten times is one flapping alert, then a
stable notice; a real agent probing a real TCP service, killed and frozen."""

import collections
import signal

import zbtest
from monitor_helpers import AlertCase, WebhookReceiver, triggers

PING = {"send": '"PING\\r\\n"', "expect": '"+PONG"'}


class AlertIncidentTest(AlertCase):

    def test_silent_host_with_five_services_is_one_alert(self):
        hook = WebhookReceiver(self)
        self.start_alerting([("hook", {"webhook": hook.url})])
        # Its services seen up under a long interval first: at 200 ms the
        # host could be silent (its services unknown) before the CLI has
        # seen them up on a loaded machine.
        agent = self.fake("web-1", interval_ms=3600000)
        names = ["s%d" % i for i in range(5)]
        for name in names:
            agent.set(name, "up")
        agent.beat()
        self.wait_state("web-1", "s4", "up", 10)
        # Then a beat announcing 200 ms, and the agent goes quiet: the
        # monitor flags the host after 5 x 200 ms (and liveness-min, 1 s).
        agent.interval_ms = 200
        agent.beat()
        alerts = zbtest.wait_for(lambda: hook.alerts(), 10, "the silent alert")
        self.wait_delivered(1, 10, "delivered")
        self.assertEqual(triggers(hook.alerts()), [("silent", "web-1", None)])
        silent = alerts[0]
        self.assertEqual((silent["state"], silent["reason"]), ("silent", "silent"))
        self.assertEqual(silent["id"], "web-1/-/%d/silent" % silent["outage_id"])
        status = self.status()
        self.assertEqual(status[("web-1", None)]["state"], "silent")
        self.assertTrue(all(status[("web-1", n)]["state"] == "unknown" for n in names))
        # Every alert of that sweep is in the database: only the one.
        self.assertEqual(len(self.alerts()), 1)

        # Back, announcing a long interval: at 200 ms it would be silent
        # again (a third alert) 1 s on, less than the checks below can take.
        agent.interval_ms = 3600000
        agent.beat()
        zbtest.wait_for(lambda: len(hook.alerts()) >= 2, 10, "the recovery")
        agent.event("marker", "up")
        self.wait_state("web-1", "marker", "up", 10)
        self.wait_delivered(2, 10, "both delivered")
        self.assertEqual(triggers(hook.alerts()), [("silent", "web-1", None),
                                                   ("recovered", "web-1", None)])
        back = hook.alerts()[1]
        self.assertEqual((back["state"], back["reason"]), ("alive", "back"))
        self.assertEqual(back["outage_id"], silent["outage_id"])
        self.assertGreater(back["duration_s"], 0.5)

    def test_flapping_service_is_one_flapping_alert_then_stable(self):
        hook = WebhookReceiver(self)
        self.start_alerting([("hook", {"webhook": hook.url})], flap_threshold=6,
                            flap_window="1m", flap_quiet="2s")
        agent = self.fake("web-1", interval_ms=60000)
        agent.set("redis", "up")
        agent.set("ssh", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        for _ in range(10):
            agent.event("redis", "down")
            agent.event("redis", "up")
        self.wait_outages(lambda r: len(r) == 10 and all(o["ended_at"] for o in r), 10,
                          "ten outages recorded")
        # The first six changes alert as usual; the seventh is flapping.
        zbtest.wait_for(lambda: len(hook.alerts()) >= 7, 10, "seven alerts")
        expect = [("down", "web-1", "redis"), ("recovered", "web-1", "redis")] * 3 + \
            [("flapping", "web-1", "redis")]
        self.assertEqual(triggers(hook.alerts()), expect)
        flap = hook.alerts()[6]
        self.assertEqual(flap["transitions"], 7)
        self.assertEqual(flap["window_s"], 60.0)
        # Quiet for flap-quiet: one stable notice, saying where it settled.
        zbtest.wait_for(lambda: len(hook.alerts()) >= 8, 10, "the stable notice")
        stable = hook.alerts()[7]
        self.assertEqual((stable["trigger"], stable["state"]), ("stable", "up"))
        self.assertEqual(stable["id"], flap["id"].replace("/flapping", "/stable"))
        counts = collections.Counter(a["trigger"] for a in hook.alerts())
        self.assertEqual(counts["flapping"], 1)
        self.assertLess(len(hook.alerts()), 20)
        # Calm again: the next outage alerts as usual.
        agent.event("redis", "down")
        zbtest.wait_for(lambda: len(hook.alerts()) >= 9, 10, "a normal down alert")
        self.assertEqual(hook.alerts()[8]["trigger"], "down")
        self.wait_delivered(9, 10, "all delivered")
        self.assertEqual(len(hook.alerts()), 9)

    def test_real_agent_service_killed_and_agent_frozen(self):
        hook = WebhookReceiver(self)
        self.start_alerting([("hook", {"webhook": hook.url})])
        server = zbtest.TcpServer(self)
        other = zbtest.TcpServer(self)
        lines = ["agent", "    name = web-1", "    monitor = %s" % self.endpoint,
                 "    beat = 250ms", "service"]
        for name, srv in (("tcp", server), ("other", other)):
            lines += ["    %s" % name, "        probe = 127.0.0.1:%d" % srv.port,
                      "        interval = 200ms", "        timeout = 150ms", "        fails = 2"]
            lines += ["        %s = %s" % kv for kv in PING.items()]
        cfg = self.write("agent.cfg", "\n".join(lines) + "\n")
        agent = self.start([zbtest.bin("zbeat-agent"), "-c", cfg], "agent")
        self.wait_state("web-1", "tcp", "up", 15)
        self.wait_state("web-1", "other", "up", 15)

        server.set_mode("refuse")
        zbtest.wait_for(lambda: hook.alerts(), 10, "the down alert")
        server.set_mode("answer")
        zbtest.wait_for(lambda: len(hook.alerts()) >= 2, 10, "the recovery")
        self.assertEqual(triggers(hook.alerts()), [("down", "web-1", "tcp"),
                                                   ("recovered", "web-1", "tcp")])
        down, rec = hook.alerts()
        self.assertEqual(down["reason"], "refused")
        self.assertEqual(rec["outage_id"], down["outage_id"])

        # A frozen agent: its host is silent, one alert, none for services.
        self.wait_beating("web-1")  # its interval (so its deadline) is known
        agent.send_signal(signal.SIGSTOP)
        zbtest.wait_for(lambda: len(hook.alerts()) >= 3, 10, "the silent alert")
        agent.send_signal(signal.SIGCONT)
        zbtest.wait_for(lambda: len(hook.alerts()) >= 4, 10, "the host's recovery")
        self.wait_state("web-1", "other", "up", 10)
        self.wait_state("web-1", "tcp", "up", 10)
        self.assertEqual(triggers(hook.alerts()[2:]), [("silent", "web-1", None),
                                                       ("recovered", "web-1", None)])
        # A planned stop is not an incident.
        self.assertEqual(agent.stop(signal.SIGTERM), 0)
        self.wait_state("web-1", None, "stopped", 10)
        self.wait_delivered(4, 10, "all delivered")
        self.assertEqual(len(hook.alerts()), 4)


if __name__ == "__main__":
    zbtest.main()
