"""zbeat's mistakes: a missing or foreign database, unknown flags, bad times
and names: one clear line on stderr, a non-zero exit (2 for usage, 1 for a
database that cannot be read), nothing on stdout."""

import os
import sqlite3
import subprocess

import zbtest
from monitor_helpers import MonitorCase


class CliErrorsTest(MonitorCase):

    def assert_fails(self, args, code, expect, env=None, db=True):
        full = ([self.cli_bin] + (["--db", self.db] if db else []) + list(args))
        rc, out, err = self.run_cmd(full, env=env)
        self.assertEqual(rc, code, "exit code of %s: %r" % (args, err))
        self.assertEqual(out, "", "nothing on stdout for %s" % (args,))
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "one line on stderr: %r" % err)
        self.assertTrue(lines[0].startswith("zbeat: "), lines[0])
        self.assertIn(expect, lines[0])

    def test_missing_database(self):
        self.assert_fails(["status"], 1, "%s: no such database" % self.db)
        self.assertFalse(os.path.exists(self.db), "a reader must not create it")
        # The default: $ZBEAT_DB, then ./zbeat.db in the working directory.
        rc, _, err = self.run_cmd([self.cli_bin, "outages"], env={"ZBEAT_DB": "/nonexistent.db"})
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent.db: no such database", err)
        env = dict(os.environ)
        env.pop("ZBEAT_DB", None)
        r = subprocess.run([self.cli_bin, "hosts"], cwd=self.tmp, env=env,
                                  capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "zbeat: zbeat.db: no such database")

    def test_not_a_zbeat_database(self):
        with open(self.db, "w") as f:
            f.write("just some text, long enough to be read as a header " * 20)
        self.assert_fails(["status"], 1, "not a database")
        os.unlink(self.db)
        sqlite3.connect(self.db).close()  # empty file
        self.assert_fails(["status"], 1, "not a zbeat database")
        os.unlink(self.db)
        db = sqlite3.connect(self.db)
        db.execute("PRAGMA user_version = 999")
        db.close()
        self.assert_fails(["outages"], 1, "schema version 999 is newer")

    def test_usage_errors(self):
        self.start_monitor()  # a real database: only the arguments are wrong
        cases = [
            (["outages", "--bogus"], "unknown option '--bogus'"),
            (["--frobnicate", "status"], "unknown option '--frobnicate'"),
            ([], "no command given"),
            (["uptime"], "unknown command 'uptime'"),
            (["status", "extra"], "unexpected argument 'extra'"),
            (["outages", "--since", "yesterday"], "--since: \"yesterday\" is not a time"),
            (["outages", "--until", "2026-13-45T99:00:00Z"], "--until: \"2026-13-45T99"),
            (["outages", "--since", "5"], "--since: \"5\" is not a time"),
            # A day the month lacks is refused, not rolled over into March.
            (["outages", "--since", "2026-02-30"], "--since: \"2026-02-30\" is not a time"),
            (["report", "--until", "2026-02-29T00:00:00Z"], "--until: \"2026-02-29T00"),
            (["alerts", "--since", "2026-11-31"], "--since: \"2026-11-31\" is not a time"),
            (["silence", "add", "--host", "web-1", "--for", "0x10s"], "--for: \"0x10s\""),
            (["silence", "add", "--host", "web-1", "--for", "1e3s"], "--for: \"1e3s\""),
            (["help", "uptime"], "help: unknown command 'uptime'"),
            (["outages", "--since", "1h", "--until", "2h"], "--since is after --until"),
            (["outages", "--limit", "0"], "--limit: \"0\""),
            (["outages", "--limit", "ten"], "--limit: \"ten\""),
            (["outages", "--host", "bad host"], "--host: \"bad host\" is not a host name"),
            (["outages", "--service", "\x1b[31m"], "--service: \"\\x1b[31m\""),
            (["outages", "--json", "--csv"], "--json and --csv exclude each other"),
            (["outages", "--host"], "--host needs a value"),
            (["status", "--open"], "status takes no filters"),
        ]
        for args, expect in cases:
            self.assert_fails(args, 2, expect)
        # --db needs a value too.
        self.assert_fails(["status", "--db"], 2, "--db needs a value", db=False)

    def test_help_and_version(self):
        rc, out, _ = self.run_cmd([self.cli_bin, "--help"])
        self.assertEqual(rc, 0)
        for word in ("status", "outages", "hosts", "--since", "--json", "--csv"):
            self.assertIn(word, out)
        rc, out, _ = self.run_cmd([self.cli_bin, "--version"])
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^zbeat \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    zbtest.main()
