"""zbeat status / outages / hosts: every output format and every filter,
against a history with known timestamps (fake agents), read while the
monitor writes and after it stopped; hostile text printed safely."""

import csv
import io
import json
import os
import sqlite3
import subprocess

import zbtest
from monitor_helpers import MonitorCase, now_ms, parse_rfc3339_ms, rfc3339

OUTAGE_KEYS = {"id", "host", "service", "kind", "started_at", "ended_at", "duration_s", "reason",
               "end_reason", "error", "silenced"}
CSV_HEADER = ["id", "host", "service", "kind", "started_at", "ended_at", "duration_s", "reason",
              "end_reason", "error", "silenced"]


class CliOutputTest(MonitorCase):

    def setUp(self):
        super().setUp()
        self.start_monitor()
        # Whole seconds, so RFC 3339 bounds on the command line are exact.
        self.t = (now_ms() // 1000) * 1000
        t = self.t
        h, m = 3600000, 60000
        # Long beat intervals: these two must not go silent during a test.
        a = self.fake("a-1", interval_ms=3600000)
        a.set("redis", "up", t - 4 * h)
        a.set("web", "up", t - 4 * h)
        a.beat()
        a.event("redis", "down", at_ms=t - 3 * h, reason="refused")
        a.event("redis", "up", at_ms=t - 2 * h)
        a.event("web", "down", at_ms=t - 30 * m, reason="timeout")
        c = self.fake("c-3", interval_ms=3600000)
        c.set("redis", "up", t - 4 * h)
        c.beat()
        c.event("redis", "down", at_ms=t - 50 * m, reason="bad-response",
                error='got "-ERR", expected +PONG')
        c.event("redis", "up", at_ms=t - 40 * m)
        # b-2 goes silent for real, then comes back: a host outage.
        b = self.fake("b-2", interval_ms=100)
        b.set("api", "up", t - 4 * h)
        b.beat()
        self.wait_state("b-2", None, "silent", 10)
        b.interval_ms = 3600000  # back, and not silent again during the test
        b.beat()
        self.wait_state("b-2", None, "alive", 10)
        self.wait_outages(lambda r: len(r) == 4, 10, "four outages")

    def test_outages_json_shape_and_order(self):
        rows = self.outages()
        for r in rows:
            self.assertEqual(set(r), OUTAGE_KEYS)
        got = [(r["host"], r["service"], r["kind"]) for r in rows]
        self.assertEqual(got, [("b-2", None, "host"), ("a-1", "web", "service"),
                               ("c-3", "redis", "service"), ("a-1", "redis", "service")])
        host, web, c3, a1 = rows
        self.assertIsNone(web["ended_at"])
        self.assertIsNone(web["end_reason"])
        self.assertEqual(web["reason"], "timeout")
        self.assertGreaterEqual(web["duration_s"], 30 * 60)  # up to now
        self.assertEqual(parse_rfc3339_ms(a1["started_at"]), self.t - 3 * 3600000)
        self.assertEqual(parse_rfc3339_ms(a1["ended_at"]), self.t - 2 * 3600000)
        self.assertEqual(a1["duration_s"], 3600)
        self.assertEqual(c3["error"], 'got "-ERR", expected +PONG')
        self.assertEqual(host["reason"], "silent")
        self.assertEqual(host["end_reason"], "back")
        self.assertIsInstance(host["id"], int)

    def test_outage_filters(self):
        def hs(*args):
            return [(r["host"], r["service"]) for r in self.outages(*args)]
        self.assertEqual(hs("--host", "a-1"), [("a-1", "web"), ("a-1", "redis")])
        self.assertEqual(hs("--service", "redis"), [("c-3", "redis"), ("a-1", "redis")])
        self.assertEqual(hs("--host", "a-1", "--service", "redis"), [("a-1", "redis")])
        self.assertEqual(hs("--host", "nobody"), [])
        self.assertEqual(hs("--open"), [("a-1", "web")])
        self.assertEqual(hs("--limit", "2"), [("b-2", None), ("a-1", "web")])
        # --since: everything still going on at or after that time.
        self.assertEqual(hs("--since", "1h"), [("b-2", None), ("a-1", "web"), ("c-3", "redis")])
        self.assertEqual(hs("--since", "35m"), [("b-2", None), ("a-1", "web")])
        # --until: everything that had started by then.
        self.assertEqual(hs("--until", "1h"), [("a-1", "redis")])
        self.assertEqual(hs("--since", "4h", "--until", "35m"), [("c-3", "redis"), ("a-1", "redis")])
        # RFC 3339 bounds are inclusive, to the second.
        end = self.t - 2 * 3600000
        self.assertEqual(hs("--host", "a-1", "--since", rfc3339(end), "--until", rfc3339(end)),
                         [("a-1", "redis")])
        self.assertEqual(hs("--host", "a-1", "--since", rfc3339(end + 1000), "--until",
                            rfc3339(end + 1000)), [])
        self.assertEqual(hs("--service=redis", "--limit=1"), [("c-3", "redis")])

    def test_outages_csv(self):
        rc, out, err = self.cli("outages", "--csv")
        self.assertEqual(rc, 0, err)
        rows = list(csv.reader(io.StringIO(out)))
        self.assertEqual(rows[0], CSV_HEADER)
        self.assertEqual(len(rows), 5)
        as_json = self.outages()
        for line, j in zip(rows[1:], as_json):
            record = dict(zip(CSV_HEADER, line))
            self.assertEqual(int(record["id"]), j["id"])
            self.assertEqual(record["host"], j["host"])
            self.assertEqual(record["service"], j["service"] or "")
            self.assertEqual(record["started_at"], j["started_at"])
            self.assertEqual(record["ended_at"], j["ended_at"] or "")
            self.assertEqual(record["error"], j["error"])  # quotes and comma survive
            if j["ended_at"]:
                self.assertEqual(float(record["duration_s"]), j["duration_s"])
        rc, out, _ = self.cli("outages", "--csv", "--host", "nobody")
        self.assertEqual(out.strip(), ",".join(CSV_HEADER))

    def test_outages_table(self):
        rc, out, err = self.cli("outages")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["HOST", "SERVICE", "KIND", "STARTED", "ENDED",
                                            "DURATION", "REASON"])
        self.assertEqual(len(lines), 5)
        # Aligned: every column starts where its header does.
        for name in ("KIND", "STARTED", "ENDED", "DURATION", "REASON"):
            col = lines[0].index(name)
            for line in lines[1:]:
                self.assertNotEqual(line[col], " ", "%s misaligned in %r" % (name, line))
                self.assertEqual(line[col - 1], " ")
        self.assertRegex(lines[4], r"^a-1 +redis +service +\S+Z +\S+Z +1h00m +refused$")
        self.assertRegex(lines[2], r"^a-1 +web +service +\S+Z +open +\S+\+ +timeout$")
        self.assertRegex(lines[1], r"^b-2 +- +host ")
        for line in lines:
            self.assertEqual(line, line.rstrip())
        rc, out, _ = self.cli("outages", "--host", "nobody")
        self.assertEqual((rc, out.strip()), (0, "no outages"))

    def test_status_and_hosts(self):
        rows = self.cli_json("status")
        detector = {"silence_threshold_ms", "datagram_loss"}  # hosts', once the monitor wrote them
        for r in rows:
            self.assertEqual(set(r) - detector,
                             {"host", "service", "state", "since", "reason", "error"})
            if r["service"] is not None:
                self.assertEqual(set(r) & detector, set(), r)
        got = [(r["host"], r["service"], r["state"]) for r in rows]
        self.assertEqual(got, [("a-1", None, "alive"), ("a-1", "redis", "up"),
                               ("a-1", "web", "down"), ("b-2", None, "alive"),
                               ("b-2", "api", "up"), ("c-3", None, "alive"),
                               ("c-3", "redis", "up")])
        self.assertEqual(parse_rfc3339_ms(rows[2]["since"]), self.t - 30 * 60000)
        rc, out, err = self.cli("status")
        self.assertEqual(rc, 0, err)
        # The monitor's own line first (nothing replays here: caught up),
        # the counts, then the problems only: a-1/web down.
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^monitor: up \S+, heard \S+ ago, caught up$")
        self.assertEqual(lines[1], "3 hosts: 3 alive; 4 services: 3 up, 1 down")
        self.assertEqual(lines[2].split()[:3], ["HOST", "SERVICE", "STATE"])
        self.assertRegex(out, r"\na-1 +web +down +\S+Z +3\dm\d\ds +timeout\n")
        self.assertEqual(len(lines), 4, out)
        # --all: every row, as before.
        rc, out, err = self.cli("status", "--all")
        self.assertEqual(rc, 0, err)
        self.assertEqual([l.split()[:3] for l in out.splitlines()[3:]],
                         [[h, s or "-", st] for h, s, st in got])
        # Filters, as the API's: states, host and service globs.
        rc, out, err = self.cli("status", "--host", "[bc]-*", "--service", "redis")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[1], "1 service: 1 up")  # services only
        self.assertEqual(out.splitlines()[2], "no problems (--all shows every row)")
        rc, out, err = self.cli("status", "--state", "up", "--host", "[bc]-*")
        self.assertEqual([l.split()[:3] for l in out.splitlines()[3:]],
                         [["b-2", "api", "up"], ["c-3", "redis", "up"]])
        rc, out, err = self.cli("status", "--host", "nobody-*")
        self.assertEqual(out.splitlines()[1:], ["no host or service matches"])
        # JSON and CSV: every row unless filtered (scripts keep working).
        self.assertEqual([(r["host"], r["service"], r["state"])
                          for r in self.cli_json("status", "--state", "problems,alive")],
                         [("a-1", None, "alive"), ("a-1", "web", "down"), ("b-2", None, "alive"),
                          ("c-3", None, "alive")])
        self.assertEqual(self.cli_json("status", "--host", "zz*"), [])
        rc, out, err = self.cli("status", "--csv")
        table = list(csv.reader(io.StringIO(out)))
        self.assertEqual(table[0], ["host", "service", "state", "since", "for", "reason"])
        self.assertEqual(len(table), 8)
        rc, out, err = self.cli("status", "--csv", "--service", "redis")
        self.assertEqual([r[:3] for r in csv.reader(io.StringIO(out))][1:],
                         [["a-1", "redis", "up"], ["c-3", "redis", "up"]])
        for bad, says in ((["--state", ""], "--state"), (["--state", "Down"], "--state"),
                          (["--host", "a b"], "--host"), (["--service", "x/y"], "--service")):
            rc, out, err = self.cli("status", *bad)
            self.assertEqual((rc, out), (2, ""), bad)
            self.assertIn(says, err)

        hosts = self.cli_json("hosts")
        self.assertEqual([h["host"] for h in hosts], ["a-1", "b-2", "c-3"])
        for h in hosts:
            self.assertEqual(set(h), {"host", "state", "since", "last_seen", "instance",
                                      "interval_ms", "replay_pending", "replay_reported",
                                      "silence_threshold_ms", "datagram_loss"})
            # No datagrams: no loss estimate; the threshold once written is
            # ZeroMQ's: liveness x the beat in force when it was written (every
            # 5 s when it moved), at least liveness-min: b-2 beat every 100 ms
            # before its silence.
            self.assertIsNone(h["datagram_loss"])
            written = (None, 5 * 3600000) + ((1000,) if h["host"] == "b-2" else ())
            self.assertIn(h["silence_threshold_ms"], written, h)
            self.assertRegex(h["instance"], r"^[0-9a-f]{16}$")
            # These agents have no replay channel: nothing reported.
            self.assertEqual((h["replay_pending"], h["replay_reported"]), (None, None))
        self.assertEqual([h["interval_ms"] for h in hosts], [3600000] * 3)
        rc, out, err = self.cli("hosts")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[0].split(), ["HOST", "STATE", "SINCE", "LAST", "HEARD",
                                                       "INSTANCE", "BEAT", "REPLAY"])
        self.assertRegex(out.splitlines()[1],
                         r"^a-1 +alive +\S+Z +\S+ ago +[0-9a-f]{16} +1h00m +-$")
        rc, out, err = self.cli("hosts", "--csv")
        self.assertEqual(list(csv.reader(io.StringIO(out)))[0],
                         ["host", "state", "since", "last_seen", "instance", "interval_ms",
                          "replay_pending", "replay_reported", "silence_threshold_ms",
                          "datagram_loss"])

    def test_db_from_environment_and_after_the_monitor_stopped(self):
        self.stop_monitor()
        # The WAL is gone after a clean stop; a read-only open still works.
        self.assertFalse(os.path.exists(self.db + "-wal"))
        rc, out, err = self.run_cmd([self.cli_bin, "outages", "--json"],
                                    env={"ZBEAT_DB": self.db})
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(json.loads(out)), 4)
        self.assertFalse(os.path.exists(self.db + "-wal") and os.path.getsize(self.db + "-wal"))

    def test_hostile_text_is_printed_safely(self):
        # Names are validated on the wire; text can still reach the database
        # by other means. Write it directly, then look at every format.
        self.stop_monitor()
        evil_host = "evil\x1b[2J\x07host\r\n\x9b31m"
        evil_error = "err \x1b]0;title\x07 \"quoted\", done \xff"
        db = sqlite3.connect(self.db)
        db.execute("INSERT INTO outages (kind, host, service, started_at_ms, reason, error) "
                   "VALUES ('service', ?, 'svc', 1, 'refused', ?)", (evil_host, evil_error))
        # Invalid UTF-8 as raw bytes.
        db.execute("INSERT INTO outages (kind, host, service, started_at_ms, reason) "
                   "VALUES ('service', CAST(X'6261640affc3' AS TEXT), 'svc', 2, 'x')")
        db.execute("INSERT INTO hosts (name, state, since_ms) VALUES (?, 'alive', 1)",
                   (evil_host,))
        db.commit()
        db.close()
        for args in (["outages"], ["outages", "--csv"], ["outages", "--json"], ["status", "--all"],
                     ["status", "--csv"], ["status", "--json"], ["hosts"], ["hosts", "--json"]):
            r = subprocess.run([self.cli_bin, "--db", self.db] + args, capture_output=True)
            self.assertEqual(r.returncode, 0, "%s: %s" % (args, r.stderr))
            raw = r.stdout
            out = raw.decode("utf-8")  # valid UTF-8, always
            for bad in (b"\x1b", b"\x07", b"\r", b"\xc2\x9b", b"\xff"):
                self.assertNotIn(bad, raw, "%r in zbeat %s" % (bad, " ".join(args)))
            if "--json" in args:
                parsed = json.loads(out)
                if args[0] == "outages":
                    hosts = [r["host"] for r in parsed]
                    self.assertIn(evil_host, hosts)  # JSON escapes are lossless
            elif "--csv" not in args:
                self.assertIn("\\x1b", out)
        rc, out, _ = self.cli("outages", "--csv")
        self.assertEqual(len(list(csv.reader(io.StringIO(out)))), 7)


if __name__ == "__main__":
    zbtest.main()
