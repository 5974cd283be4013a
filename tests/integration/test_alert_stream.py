"""The ZeroMQ alert stream (monitor/publish): a pyzmq SUB receives
alert.<host>.<service> and alert.<host> messages carrying the alert JSON, and
state.<host>[.<service>] messages for every state change."""

import zbtest
from monitor_helpers import AlertCase, StreamSub


class AlertStreamTest(AlertCase):

    def test_sub_receives_alerts_and_state_changes(self):
        port = zbtest.free_port()
        self.start_alerting(publish="tcp://127.0.0.1:%d" % port)
        # Logged a moment after "listening on", which the start waits for.
        zbtest.wait_for(lambda: "publishing alerts on tcp://127.0.0.1:%d" % port in
                        self.monitor.output(), 10, "the monitor publishing alerts")
        sub = StreamSub(self, "tcp://127.0.0.1:%d" % port)
        # A long interval until the host is to go silent: at 200 ms a stall
        # of 1 s between two messages would bring a silent alert (and a
        # recovery) before the ones checked here.
        agent = self.fake("web-1", interval_ms=3600000)
        agent.set("redis", "up")
        agent.beat()
        self.wait_beating("web-1")
        # A PUB drops what it sends before the subscription arrives: new
        # services coming up until the SUB sees one make sure it has.
        n = 0

        def subscribed():
            nonlocal n
            n += 1
            agent.event("probe-%d" % n, "up")
            agent.beat()
            return [m for m in sub.messages() if m[0].startswith("state.web-1.probe-")]
        zbtest.wait_for(subscribed, 10, "the stream flowing")

        agent.event("redis", "down", reason="timeout")
        agent.beat()

        def find(topic):
            return [m for m in sub.messages() if m[0] == topic]
        alert = zbtest.wait_for(lambda: find("alert.web-1.redis"), 10, "alert.web-1.redis")[0][1]
        outage = self.outages("--service", "redis")[0]
        self.assertEqual(alert["id"], "web-1/redis/%d/down" % outage["id"])
        self.assertEqual((alert["trigger"], alert["reason"]), ("down", "timeout"))
        state = zbtest.wait_for(lambda: find("state.web-1.redis"), 10, "state.web-1.redis")
        state = zbtest.wait_for(lambda: [s[1] for s in find("state.web-1.redis")
                                         if s[1]["to"] == "down"], 10, "redis: up -> down")
        self.assertEqual((state[0]["from"], state[0]["type"]), ("up", "state"))
        # A beat announcing 200 ms, then none: the host goes silent (5 x
        # 200 ms on): one host alert, alert.web-1, and its state.
        agent.interval_ms = 200
        agent.beat()
        host_alert = zbtest.wait_for(lambda: find("alert.web-1"), 10, "alert.web-1")[0][1]
        self.assertEqual((host_alert["trigger"], host_alert["service"]), ("silent", None))
        host_state = zbtest.wait_for(lambda: find("state.web-1"), 10, "state.web-1")[0][1]
        self.assertEqual((host_state["from"], host_state["to"]), ("alive", "silent"))
        # Back, announcing a long interval: not silent again before the
        # count below.
        agent.interval_ms = 3600000
        agent.beat()
        zbtest.wait_for(lambda: len(find("alert.web-1")) >= 2, 10, "the host's recovery")
        self.assertEqual(find("alert.web-1")[1][1]["trigger"], "recovered")
        alerts = [m for m in sub.messages() if m[0].startswith("alert.")]
        self.assertEqual(len(alerts), 3, alerts)
        self.stop_monitor()

    def test_publish_endpoint_checked(self):
        path = self.monitor_config(publish="udp://x:1")
        rc, _, err = self.run_cmd([self.monitor_bin, "-c", path, "--check-config"])
        self.assertEqual(rc, 2)
        self.assertIn("monitor/publish: \"udp://x:1\" has an unknown transport", err)


if __name__ == "__main__":
    zbtest.main()
