"""--log-format json: the monitor's outage and host lines carry the same
host/service/state/reason fields as the agent's state lines, so one grep (or
one log-shipper rule) finds them all."""

import json

import zbtest
from monitor_helpers import MonitorCase


class MonitorJsonLogs(MonitorCase):
    def lines(self):
        out = []
        for line in self.monitor.output().splitlines():
            out.append(json.loads(line))  # every line is one JSON object
        return out

    def find(self, **fields):
        return [l for l in self.lines() if all(l.get(k) == v for k, v in fields.items())]

    def test_outage_and_host_lines_have_fields(self):
        self.start_monitor(["--log-format", "json", "--liveness", "2"])
        fake = self.fake("web-1", interval_ms=200)
        fake.set("redis", "up")
        fake.beat()
        self.wait_beating("web-1")
        fake.event("redis", "down", reason="refused", error="connect: Connection refused")
        zbtest.wait_for(lambda: self.find(host="web-1", service="redis", state="down"), 10,
                        "an outage-opened line with fields")
        line = self.find(host="web-1", service="redis", state="down")[0]
        self.assertEqual(line["reason"], "refused")
        self.assertEqual(line["level"], "info")
        self.assertEqual(line["ident"], "zbeat-monitor")
        self.assertIn("outage opened: web-1/redis", line["msg"])
        fake.event("redis", "up", reason="ok")
        zbtest.wait_for(lambda: self.find(host="web-1", service="redis", state="up"), 10,
                        "an outage-closed line with fields")
        # Silence: the host line has the host and the state, no service.
        zbtest.wait_for(lambda: self.find(host="web-1", state="silent"), 10 * zbtest.SLOW,
                        "a host-silent line")
        self.assertNotIn("service", self.find(host="web-1", state="silent")[0])
        fake.beat()
        zbtest.wait_for(lambda: self.find(host="web-1", state="alive", reason="back"), 10,
                        "a host-back line")
        self.assertEqual(self.monitor.stop(), 0)
        stop = [l for l in self.lines() if l["msg"].startswith("monitor stopping:")]
        self.assertEqual(len(stop), 1)  # the stop line is JSON too


if __name__ == "__main__":
    zbtest.main()
