"""Two real zbeat-agent processes with one name (a cloned VM, a copied
config) against a real monitor: the host reads name-conflict everywhere, one
alert says so, the authoritative agent's outage is one outage, the other's
messages are dropped and counted (issue 18, point 1)."""

import re
import signal
import time

import zbtest
from http_helpers import HttpCase, check_metrics_text, sample
from monitor_helpers import AlertCase, service_outages

PING = {"send": '"PING\\r\\n"', "expect": '"+PONG"'}


class NameConflictTest(HttpCase, AlertCase):

    def start_agent(self, label, redis):
        path = self.write("%s.cfg" % label, "\n".join([
            "agent", "    name = web-1", "    monitor = %s" % self.endpoint,
            "    beat = 250ms", "service", "    redis",
            "        probe = 127.0.0.1:%d" % redis.port, "        interval = 500ms",
            "        timeout = 300ms", "        send = %s" % PING["send"],
            "        expect = %s" % PING["expect"]]) + "\n")
        return self.start([zbtest.bin("zbeat-agent"), "-c", path], label)

    def host_row(self):
        rows = [h for h in self.cli_json("hosts") if h["host"] == "web-1"]
        return rows[0] if rows else None

    def test_two_agents_with_one_name(self):
        path = self.monitor_config()
        self.start_http_monitor(["-c", path, "-v"])
        redis = {"a": self.redis(), "b": self.redis()}
        agents = {"a": self.start_agent("a", redis["a"])}
        self.wait_state("web-1", "redis", "up", 15)
        agents["b"] = self.start_agent("b", redis["b"])

        row = zbtest.wait_for(lambda: (self.host_row() or {}).get("state") == "name-conflict"
                              and self.host_row(), 10, "web-1 name-conflict")
        # Which agent run is authoritative: the one whose instance the row has.
        def instance(label):
            m = re.search(r"instance ([0-9a-f]+)", agents[label].output())
            return m.group(1) if m else None
        zbtest.wait_for(lambda: instance("a") and instance("b"), 10, "agents' instances")
        self.assertIn(row["instance"], (instance("a"), instance("b")))
        auth = "a" if row["instance"] == instance("a") else "b"
        other = "b" if auth == "a" else "a"

        # Status and hosts, text and JSON.
        self.assertEqual(self.status()[("web-1", None)]["state"], "name-conflict")
        self.assertEqual(self.status()[("web-1", "redis")]["state"], "up")
        for command in ("status", "hosts"):
            rc, out, err = self.cli(command)
            self.assertEqual(rc, 0, err)
            self.assertRegex(out, r"web-1\s+(-\s+)?name-conflict")
        m = check_metrics_text(self, self.get("/metrics").text())
        self.assertEqual(sample(m, "zbeat_host_state", host="web-1", state="name-conflict"), 1.0)
        self.assertEqual(sample(m, "zbeat_host_alive", host="web-1"), 1.0)
        self.assertGreater(sample(m, "zbeat_conflict_messages_total"), 0)

        # A real outage of the authoritative agent's service, held for a
        # few of the other's beats (which say "up" and must not count).
        redis[auth].kill()
        self.wait_outages(lambda r: service_outages(r, "web-1", "redis"), 10, "redis outage")
        time.sleep(1.5)  # the fault lasts: six beats of the other agent meanwhile
        self.assertEqual(self.status()[("web-1", "redis")]["state"], "down")
        redis[auth].start()
        rows = self.wait_outages(
            lambda r: [o for o in service_outages(r, "web-1") if o["ended_at"]], 15,
            "redis outage closed")
        self.assertEqual(len(service_outages(rows, "web-1")), 1, rows)
        self.assertEqual(rows[0]["end_reason"], "up")
        self.assertGreater(rows[0]["duration_s"], 1.4)
        self.assertFalse([o for o in rows if o["end_reason"] == "removed"], rows)
        self.assertTrue(agents[other].alive())

        alerts = self.alerts()
        conflict = [a for a in alerts if a["trigger"] == "name-conflict"]
        self.assertEqual(len(conflict), 1, alerts)
        self.assertEqual(conflict[0]["host"], "web-1")
        self.assertEqual(len([a for a in alerts if a["trigger"] == "recovered"]), 1, alerts)

        # The other agent stops for good: the conflict ends once it was
        # quiet for the liveness window; the host is alive again.
        agents[other].stop(signal.SIGKILL)
        zbtest.wait_for(lambda: (self.host_row() or {}).get("state") == "alive", 15,
                        "web-1 alive again")
        stats = self.stop_monitor()
        self.assertGreater(stats["conflicts"], 0)
        self.assertEqual(len([a for a in self.alerts() if a["trigger"] == "name-conflict"]), 1)


if __name__ == "__main__":
    zbtest.main()
