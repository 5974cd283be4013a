"""Metrics people can graph (issue 20): /metrics serves each up service's
latest round trip and the outages opened per service and host, and still
passes `promtool check metrics`; dist/prometheus/zbeat-rules.yml passes
`promtool check rules` and its ServiceDown rule fires on zbeat's series
(`promtool test rules`); dist/grafana/zbeat-dashboard.json is a dashboard
model whose queries use only metrics the monitor serves."""

import json
import os
import re
import unittest

import zbtest
from http_helpers import HttpCase, check_metrics_text, promtool, sample
from monitor_helpers import AlertCase

SOURCE = os.environ.get("ZB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
RULES = os.path.join(SOURCE, "dist", "prometheus", "zbeat-rules.yml")
DASHBOARD = os.path.join(SOURCE, "dist", "grafana", "zbeat-dashboard.json")

RULES_TEST = """rule_files: [%s]
evaluation_interval: 30s
tests:
  - interval: 30s
    input_series:
      - series: 'zbeat_service_state{host="web-1", service="redis", state="down"}'
        values: '0 0 1 1 1 1 1'
      - series: 'zbeat_host_state{host="web-2", state="silent"}'
        values: '0x6'
      - series: 'zbeat_tls_cert_expiry_timestamp_seconds{host="web-1", service="web"}'
        values: '864000x6'
      - series: 'zbeat_tls_cert_expiry_timestamp_seconds{host="web-1", service="api"}'
        values: '2592000x6'
    alert_rule_test:
      - eval_time: 2m
        alertname: ZbeatServiceDown
        exp_alerts:
          - exp_labels: {severity: critical, host: web-1, service: redis, state: down}
            exp_annotations:
              summary: "web-1/redis is down"
              description: "zbeat reports redis on web-1 down for more than a minute."
      - eval_time: 1m30s
        alertname: ZbeatServiceDown
        exp_alerts: []
      - eval_time: 3m
        alertname: ZbeatHostSilent
        exp_alerts: []
      - eval_time: 1m
        alertname: ZbeatCertExpiring
        exp_alerts:
          - exp_labels: {severity: warning, host: web-1, service: web}
            exp_annotations:
              summary: "web-1/web: its TLS certificate expires in 9d 23h 59m 0s"
              description: "The certificate the service presents expires within 14 days (negative: it has expired). zbeat-monitor's own cert-expiring alert uses monitor/tls-warn."
"""


def served_names(text):
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


class MetricsGraphsTest(HttpCase, AlertCase):

    def test_rtt_and_outage_counts_served_and_valid(self):
        self.start_http_monitor()
        agent = self.fake("web-1", interval_ms=60000)
        agent.set("redis", "up")
        agent.set("web", "up")
        agent.services["redis"]["rtt_us"] = 250
        agent.services["web"]["rtt_us"] = 1500000
        agent.services["web"]["tls_expires"] = "2030-01-01T00:00:00Z"
        agent.beat()
        self.wait_state("web-1", "web", "up", 10)
        for _ in range(2):
            agent.event("redis", "down")
            agent.event("redis", "up")
        agent.services["redis"]["rtt_us"] = 180  # the latest counts
        agent.beat()
        silent = self.fake("db-2", interval_ms=100)
        silent.set("pg", "up")
        silent.beat()
        self.wait_state("db-2", None, "silent", 10)
        self.assertEqual(len(self.outages("--service", "redis")), 2)

        def served():
            m = check_metrics_text(self, self.get("/metrics").text())
            return m if sample(m, "zbeat_service_rtt_seconds", host="web-1",
                               service="redis") == 0.00018 else None
        m = zbtest.wait_for(served, 10, "the latest round trip on /metrics")
        self.assertEqual(sample(m, "zbeat_service_rtt_seconds", host="web-1", service="web"), 1.5)
        self.assertEqual(sample(m, "zbeat_outages_total", host="web-1", service="redis"), 2.0)
        self.assertEqual(sample(m, "zbeat_outages_total", host="web-1", service="web"), 0.0)
        self.assertEqual(sample(m, "zbeat_outages_total", host="db-2"), 1.0)
        # A service whose host is silent is unknown: no round trip for it.
        self.assertIsNone(sample(m, "zbeat_service_rtt_seconds", host="db-2", service="pg"))
        self.assertEqual(sample(m, "zbeat_outages_total", host="db-2", service="pg"), 0.0)

        # The dashboard queries only what is served.
        text = self.get("/metrics").text()
        names = served_names(text)
        with open(DASHBOARD) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        exprs += [v["definition"] for v in dash["templating"]["list"] if "definition" in v]
        for expr in exprs:
            used = set(re.findall(r"\bzbeat_[a-z_]+", expr))
            used = {n[:-len("_bucket")] if n.endswith("_bucket") else n for n in used}
            self.assertTrue(used and used <= names, "%s uses %s" % (expr, used - names))
        with open(RULES) as f:
            rules = f.read()
        for name in set(re.findall(r"\bzbeat_[a-z_]+", rules)) - {"zbeat_monitor"}:
            self.assertIn(name, names, "the rules use %s" % name)
        self.stop_monitor()

    def test_dashboard_is_a_grafana_dashboard_model(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        for key in ("title", "uid", "panels", "schemaVersion", "templating", "time"):
            self.assertIn(key, dash)
        self.assertIsInstance(dash["schemaVersion"], int)
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        types = {p["type"] for p in dash["panels"]}
        self.assertTrue({"stat", "state-timeline", "timeseries"} <= types, types)
        titles = " ".join(p["title"] for p in dash["panels"]).lower()
        for what in ("states", "outages", "round trip"):
            self.assertIn(what, titles)
        for p in dash["panels"]:
            self.assertTrue({"h", "w", "x", "y"} <= set(p["gridPos"]), p)
            self.assertLessEqual(p["gridPos"]["x"] + p["gridPos"]["w"], 24, p["title"])
            self.assertTrue(p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"]))
        variables = {v["name"] for v in dash["templating"]["list"]}
        self.assertEqual(variables, {"datasource", "host", "service"})

    @unittest.skipUnless(promtool(), "needs promtool (Debian package prometheus)")
    def test_rules_check_and_fire(self):
        rc, out, err = self.run_cmd([promtool(), "check", "rules", RULES])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("SUCCESS", out)
        path = self.write("rules-test.yml", RULES_TEST % json.dumps(os.path.abspath(RULES)))
        rc, out, err = self.run_cmd([promtool(), "test", "rules", path])
        self.assertEqual(rc, 0, out + err)


if __name__ == "__main__":
    zbtest.main()
