"""zbeat report: availability, outages, MTTR and longest outage per service,
host silences apart, against hand-computed figures of a history with known
times (fake agents); every output format; the same numbers over HTTP."""

import csv
import io

import zbtest
from http_helpers import HttpCase
from monitor_helpers import host_outages, now_ms, parse_rfc3339_ms, rfc3339

H, M = 3600000, 60000


def rows_by_key(report):
    return {(r["host"], r["service"]): r for r in report["rows"]}


class ReportCliTest(HttpCase):

    def setUp(self):
        super().setUp()
        self.start_http_monitor()
        self.t = t = (now_ms() // 1000) * 1000
        a = self.fake("a-1", interval_ms=3600000)
        for name in ("redis", "web", "ssh"):
            a.set(name, "up", t - 10 * H)
        a.beat()
        # redis: down one hour, inside the window.
        a.event("redis", "down", at_ms=t - 3 * H, reason="refused")
        a.event("redis", "up", at_ms=t - 2 * H)
        # web: down for the last 30 minutes, still open.
        a.event("web", "down", at_ms=t - 30 * M, reason="timeout")
        # ssh: down across the window's start (5h..3h30 ago), then twice
        # more for 10 minutes.
        a.event("ssh", "down", at_ms=t - 5 * H, reason="timeout")
        a.event("ssh", "up", at_ms=t - 3 * H - 30 * M)
        a.event("ssh", "down", at_ms=t - 90 * M, reason="closed")
        a.event("ssh", "up", at_ms=t - 80 * M)
        a.event("ssh", "down", at_ms=t - 60 * M, reason="closed")
        a.event("ssh", "up", at_ms=t - 50 * M)
        self.wait_outages(lambda r: len(r) == 5, 10, "five outages")
        self.since, self.until = rfc3339(t - 4 * H), rfc3339(t)

    def report(self, *args):
        return self.cli_json("report", "--since", self.since, "--until", self.until, *args)

    def test_hand_computed_figures(self):
        report = self.report()
        self.assertEqual(report["since"], rfc3339(self.t - 4 * H).replace("Z", ".000Z"))
        self.assertEqual(report["until"], rfc3339(self.t).replace("Z", ".000Z"))
        self.assertEqual(report["window_s"], 4 * 3600)
        rows = rows_by_key(report)
        self.assertEqual(list(rows), [("a-1", None), ("a-1", "redis"), ("a-1", "ssh"),
                                      ("a-1", "web")])
        host = rows[("a-1", None)]
        self.assertEqual((host["kind"], host["availability_pct"], host["outages"],
                          host["silent_s"], host["down_s"], host["mttr_s"]),
                         ("host", 100.0, 0, 0.0, None, None))
        redis = rows[("a-1", "redis")]
        # 1 h down of 4: 75 %.
        self.assertEqual(redis["availability_pct"], 75.0)
        self.assertEqual((redis["outages"], redis["open"]), (1, 0))
        self.assertEqual((redis["down_s"], redis["mttr_s"], redis["longest_s"]),
                         (3600.0, 3600.0, 3600.0))
        self.assertEqual(redis["silent_s"], 0.0)
        # web: open for the last 30 minutes of the window (clipped at its
        # end); no MTTR; its longest runs up to now.
        web = rows[("a-1", "web")]
        self.assertEqual(web["availability_pct"], 87.5)
        self.assertEqual((web["outages"], web["open"], web["down_s"], web["mttr_s"]),
                         (1, 1, 1800.0, None))
        self.assertGreaterEqual(web["longest_s"], 1800.0)
        # ssh: 30 min of the first outage fall in the window (its whole 90
        # min count for MTTR and longest), plus 10 + 10 min: 50 min down.
        ssh = rows[("a-1", "ssh")]
        self.assertEqual(ssh["down_s"], 50 * 60.0)
        self.assertAlmostEqual(ssh["availability_pct"], 100 * (240 - 50) / 240, places=9)
        self.assertEqual((ssh["outages"], ssh["open"]), (3, 0))
        self.assertEqual(ssh["mttr_s"], (90 + 10 + 10) * 60 / 3)
        self.assertEqual(ssh["longest_s"], 90 * 60.0)

    def test_host_silence_is_not_downtime(self):
        # b-2/db goes down, then the host goes silent and comes back: the
        # silence counts apart (silent_s), and not for db while it was
        # already down.
        b = self.fake("b-2", interval_ms=100)
        b.set("api", "up", self.t - 10 * H)
        b.set("db", "up", self.t - 10 * H)
        b.beat()
        b.event("db", "down", reason="refused")
        self.wait_state("b-2", None, "silent", 10)
        b.interval_ms = 3600000
        b.beat()
        self.wait_state("b-2", None, "alive", 10)
        silence = host_outages(self.outages("--host", "b-2"))[0]
        silent_s = (parse_rfc3339_ms(silence["ended_at"]) -
                    parse_rfc3339_ms(silence["started_at"])) / 1000.0
        report = self.cli_json("report", "--since", "1h", "--host", "b-2")
        # One now for the command: the window ends where "1h" counts back
        # from (the API's too), not at a clock read a few ms after the parse.
        self.assertEqual(report["window_s"], 3600)
        self.assertEqual(parse_rfc3339_ms(report["until"]) - parse_rfc3339_ms(report["since"]),
                         3600000)
        rows = rows_by_key(report)
        self.assertEqual(list(rows), [("b-2", None), ("b-2", "api"), ("b-2", "db")])
        host, api, db = rows[("b-2", None)], rows[("b-2", "api")], rows[("b-2", "db")]
        self.assertEqual((host["outages"], host["open"]), (1, 0))
        self.assertAlmostEqual(host["silent_s"], silent_s, places=3)
        self.assertAlmostEqual(host["longest_s"], silent_s, places=3)
        self.assertLess(host["availability_pct"], 100.0)
        # api never went down: fully available, silent with its host.
        self.assertEqual((api["availability_pct"], api["outages"], api["down_s"]),
                         (100.0, 0, 0.0))
        self.assertAlmostEqual(api["silent_s"], silent_s, places=3)
        # db was down all along: its downtime includes the silence, which
        # is then not counted as silent time for it.
        self.assertEqual((db["outages"], db["open"], db["silent_s"]), (1, 1, 0.0))
        self.assertGreaterEqual(db["down_s"], silent_s)
        self.assertLess(db["availability_pct"], 100.0)

    def test_csv_and_table(self):
        report = rows_by_key(self.report())
        rc, out, err = self.cli("report", "--since", self.since, "--until", self.until, "--csv")
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual(list(rows[0]), ["host", "service", "kind", "availability_pct", "outages",
                                         "open", "down_s", "silent_s", "mttr_s", "longest_s"])
        self.assertEqual(len(rows), 4)
        for row in rows:
            want = report[(row["host"], row["service"] or None)]
            self.assertAlmostEqual(float(row["availability_pct"]), want["availability_pct"],
                                   places=5)
            self.assertEqual(int(row["outages"]), want["outages"])
            self.assertEqual(row["mttr_s"], "" if want["mttr_s"] is None
                             else "%.3f" % want["mttr_s"])
        rc, out, err = self.cli("report", "--since", self.since, "--until", self.until)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("from %s" % self.since.replace("Z", ".000Z")))
        self.assertEqual(lines[1].split(), ["HOST", "SERVICE", "AVAILABILITY", "OUTAGES", "DOWN",
                                            "SILENT", "MTTR", "LONGEST"])
        self.assertEqual(lines[3].split()[:5], ["a-1", "redis", "75.000%", "1", "1h00m"])
        self.assertIn("87.500%", lines[5])
        self.assertIn("1 (1 open)", lines[5])
        self.assertEqual(lines[4].split()[2], "79.166%")  # 190/240 rounded down

    def test_same_numbers_over_http(self):
        api = self.get_json("/api/v1/report?since=%s&until=%s" % (self.since, self.until))
        cli = self.report()
        for a, c in zip(api["rows"], cli["rows"]):
            if a["open"]:
                self.assertAlmostEqual(a["longest_s"], c["longest_s"], delta=10 * zbtest.SLOW)
                a["longest_s"] = c["longest_s"]
        self.assertEqual(api, cli)

    def test_bad_arguments(self):
        for args in (["--service", "redis"], ["--open"], ["--limit", "3"], ["--explain"],
                     ["--since", "1h", "--until", "2h"], ["--since", "soon"],
                     ["--host", "bad name"]):
            with self.subTest(args=args):
                rc, out, err = self.cli("report", *args)
                self.assertEqual(rc, 2, err)
                self.assertEqual(out, "")
                self.assertEqual(len(err.splitlines()), 1, err)
        rc, _, err = self.cli("report", db=self.db + ".missing")
        self.assertEqual(rc, 1)
        self.assertIn("no such database", err)


if __name__ == "__main__":
    zbtest.main()
