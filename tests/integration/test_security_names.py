"""Hostile text through the whole path: agent message -> decoder -> SQLite
-> zbeat CLI. Names with quotes, SQL, newlines and escape sequences are
refused by the decoder; free-text fields (reason, error) are stored as they
are (bound parameters, never SQL text) and printed without letting a byte
drive the terminal."""

import json
import re

import zbtest
from monitor_helpers import MonitorCase

NASTY_ERRORS = [
    "it's \"quoted\"; DROP TABLE outages; --",
    "line one\nline two\r\nthree",
    "\x1b[2J\x1b[31mRED\x1b]0;pwned\x07 \x1b[0m",
    "\u009b31m C1 CSI and \u202e right-to-left",
    "tab\there, bell\x07, del\x7f",
]
NASTY_NAMES = ["web-1\x1b[31m", "a'; DROP TABLE hosts;--", "web\n1", "-web", "x" * 10240,
               "web 1", "w\u00e9b", "\"q\""]


def control_bytes(data):
    """Bytes that could drive a terminal: C0 controls other than newline,
    DEL, and C1 controls in UTF-8."""
    found = [b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f]
    found += re.findall(rb"\xc2[\x80-\x9f]", data)
    return found


class NamesTest(MonitorCase):
    def test_hostile_text_is_refused_or_stored_and_printed_safely(self):
        monitor = self.start_monitor()
        fake = self.fake("web-1", interval_ms=3600000)  # never silent: redis stays "up"
        fake.set("redis", "up")
        fake.beat()
        sent_bad = 0
        for i, error in enumerate(NASTY_ERRORS):
            service = "svc-%d" % i
            fake.set(service, "up")
            fake.event(service, "down", reason="\x1b[31m'; --", error=error)
        # 10 KB free text: over the protocol's limit, the message is refused.
        fake.event("redis", "down", error="E" * 10240)
        fake.set("redis", "up")  # or every later beat would carry it
        sent_bad += 1
        for name in NASTY_NAMES:
            saved = fake.host
            fake.host = name
            fake.beat()
            fake.host = saved
            fake.event(name, "down")  # as a service name
            fake.drop(name)  # or every later beat would be refused too
            sent_bad += 2
        fake.set("marker", "up")
        fake.beat()
        self.wait_state("web-1", "marker", "up", 10)

        # Names: none of them got in.
        self.assertEqual([h["host"] for h in self.cli_json("hosts")], ["web-1"])
        services = {s for (h, s) in self.status()}
        for name in NASTY_NAMES:
            self.assertNotIn(name, services)
        # The 10 KB error was refused: redis never went down.
        self.assertEqual(self.status()[("web-1", "redis")]["state"], "up")

        # Free text: stored exactly (JSON output round-trips what has no
        # control characters; the rest is at least there, escaped).
        rows = {r["service"]: r for r in self.outages("--host", "web-1")}
        self.assertEqual(rows["svc-0"]["error"], NASTY_ERRORS[0])
        for i in range(len(NASTY_ERRORS)):
            self.assertIn("svc-%d" % i, rows)

        # Every view, every format: no byte that drives a terminal.
        for args in (["status"], ["outages"], ["hosts"], ["alerts"], ["report"]):
            for fmt in ([], ["--json"], ["--csv"]):
                rc, out, err = self.run_cmd([self.cli_bin, "--db", self.db] + args + fmt)
                self.assertEqual(rc, 0, "%s %s: %s" % (args, fmt, err))
                raw = out.encode("utf-8", "surrogateescape")
                if fmt == ["--csv"]:
                    raw = raw.replace(b"\r\n", b"\n")  # CSV's own line ends
                if fmt == ["--json"]:
                    # jansson leaves DEL unescaped: legal JSON, and inert on
                    # a terminal (it moves nothing, starts no sequence).
                    raw = raw.replace(b"\x7f", b"")
                self.assertEqual(control_bytes(raw), [], "zbeat %s %s:\n%r" % (args, fmt, out))
                if fmt == ["--json"]:
                    json.loads(out)
        rc, out, _ = self.cli("outages")
        self.assertIn("\\x1b[31m'; --", out)  # the escape shown, not obeyed
        rc, out, _ = self.cli("status", "--all")
        self.assertNotIn("\u202e", out)  # no right-to-left override in a table
        self.assertIn("\\u202e right-to-left", out)
        rc, out, _ = self.cli("outages", "--csv")
        self.assertIn("DROP TABLE outages", out)  # printed, harmlessly

        # The monitor's own log is clean too.
        self.assertEqual(control_bytes(monitor.output().encode("utf-8", "surrogateescape")), [])
        stats = self.stop_monitor()
        self.assertGreaterEqual(stats["decode_errors"], sent_bad)


if __name__ == "__main__":
    zbtest.main()
