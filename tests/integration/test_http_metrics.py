"""GET /metrics: parses (promtool check metrics, else prometheus_client), and
every value agrees with the CLI on the same database and with the monitor's
own counters: states, open outages, messages, decode errors, sequence gaps,
outages opened, alert deliveries, database write times."""

import subprocess

import zbtest
from http_helpers import HttpCase, check_metrics_text, sample
from monitor_helpers import AlertCase, now_ms


class HttpMetricsTest(HttpCase, AlertCase):

    def test_metrics_agree_with_the_cli_and_the_monitor(self):
        path = self.monitor_config([("ops", {"exec": "/bin/true"}),
                                    ("broken", {"exec": "/bin/false", "retry-for": "1s",
                                                "backoff-max": "200ms"})])
        self.start_http_monitor(["-c", path])
        t = now_ms()
        a = self.fake("a-1", interval_ms=3600000)
        a.set("redis", "up", t - 60000)
        a.set("web", "up", t - 60000)
        a.set("ssh", "up", t - 60000)
        a.beat()
        a.event("redis", "down", reason="refused")
        a.event("web", "down", reason="timeout")
        a.event("web", "up")
        # Three messages lost on the way: a gap of 3.
        a.seq += 3
        a.beat()
        # Two that are not protocol v1 at all.
        a.send_raw([b"beat.a-1", b"{not json"])
        a.send_raw([b"beat.a-1", b'{"v":2}'])
        # b-2 goes silent: a host outage, its service unknown.
        b = self.fake("b-2", interval_ms=100)
        b.set("api", "up", t - 60000)
        b.beat()
        self.wait_state("b-2", None, "silent", 10)
        # Every alert delivered or given up: nothing changes any more.
        def settled():
            rows = self.cli_json("alerts")
            ds = [d for r in rows for d in r["deliveries"]]
            return rows if ds and all(d["status"] in ("sent", "failed") for d in ds) else None
        alerts = zbtest.wait_for(settled, 20, "alerts sent or failed")

        text = self.get("/metrics").text()
        answer = self.get("/metrics")
        self.assertEqual(answer.headers["content-type"],
                         "text/plain; version=0.0.4; charset=utf-8")
        m = check_metrics_text(self, text)

        # States: exactly the CLI's.
        status = self.cli_json("status")
        self.assertEqual(len(status), 6)
        for row in status:
            if row["service"] is None:
                self.assertEqual(sample(m, "zbeat_host_alive", host=row["host"]),
                                 1.0 if row["state"] == "alive" else 0.0)
                for state in ("alive", "silent", "stopped"):
                    self.assertEqual(sample(m, "zbeat_host_state", host=row["host"], state=state),
                                     1.0 if row["state"] == state else 0.0)
                continue
            labels = {"host": row["host"], "service": row["service"]}
            self.assertEqual(sample(m, "zbeat_service_up", **labels),
                             1.0 if row["state"] == "up" else 0.0, row)
            for state in ("up", "down", "unknown", "stopped"):
                self.assertEqual(sample(m, "zbeat_service_state", state=state, **labels),
                                 1.0 if row["state"] == state else 0.0)
        self.assertEqual(sample(m, "zbeat_service_up", host="a-1", service="redis"), 0.0)
        self.assertEqual(sample(m, "zbeat_service_up", host="a-1", service="web"), 1.0)
        self.assertEqual(sample(m, "zbeat_host_alive", host="b-2"), 0.0)
        self.assertEqual(sample(m, "zbeat_service_state", host="b-2", service="api",
                                state="unknown"), 1.0)

        # Open outages: the CLI's --open.
        opened = self.outages("--open")
        for kind in ("service", "host"):
            self.assertEqual(sample(m, "zbeat_outages_open", kind=kind),
                             len([o for o in opened if o["kind"] == kind]))
        everything = self.outages()
        self.assertEqual(sample(m, "zbeat_outages_opened_total", kind="service"), 2)
        self.assertEqual(sample(m, "zbeat_outages_opened_total", kind="host"), 1)
        self.assertEqual(len(everything), 3)

        # Deliveries: the CLI's alerts, by channel and status.
        counts = {}
        for r in alerts:
            for d in r["deliveries"]:
                key = (d["channel"], d["status"])
                counts[key] = counts.get(key, 0) + 1
        self.assertIn(("ops", "sent"), counts)
        self.assertIn(("broken", "failed"), counts)
        for (channel, status_), n in counts.items():
            self.assertEqual(sample(m, "zbeat_alert_deliveries_recent", channel=channel,
                                    status=status_), n)

        # Database writes: a histogram whose buckets add up.
        count = sample(m, "zbeat_db_write_seconds_count")
        self.assertGreater(count, 0)
        self.assertEqual(sample(m, "zbeat_db_write_seconds_bucket", le="+Inf"), count)
        last = 0
        for le in ("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1.0"):
            value = sample(m, "zbeat_db_write_seconds_bucket", le=le)
            self.assertIsNotNone(value, le)
            self.assertGreaterEqual(value, last)
            last = value
        self.assertGreaterEqual(sample(m, "zbeat_db_write_seconds_sum"), 0)
        self.assertEqual(sample(m, "zbeat_db_write_ok"), 1)
        self.assertLess(sample(m, "zbeat_ingest_pass_age_seconds"), 2)
        version = subprocess.run([self.monitor_bin, "--version"], capture_output=True,
                                 text=True).stdout.split()[-1]
        self.assertEqual(sample(m, "zbeat_build_info", version=version), 1)

        # The monitor's own counters, as its final stats line says them.
        stats = self.stop_monitor()
        self.assertEqual(sample(m, "zbeat_messages_total"), stats["messages"])
        self.assertEqual(sample(m, "zbeat_decode_errors_total"), stats["decode_errors"])
        self.assertEqual(sample(m, "zbeat_sequence_gaps_total"), stats["seq_gaps"])
        self.assertEqual(sample(m, "zbeat_db_errors_total"), 0)
        self.assertEqual(stats["decode_errors"], 2)
        self.assertEqual(stats["seq_gaps"], 3)
        # a-1: beat, 3 events, beat; b-2: beat.
        self.assertEqual(stats["messages"], 6)


if __name__ == "__main__":
    zbtest.main()
