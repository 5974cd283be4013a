"""zbeat's own help: `zbeat COMMAND --help` and `zbeat help COMMAND` give
that command's usage; `silence add --json` prints JSON; the default database
is $ZBEAT_DB, then the packaged /var/lib/zbeat/zbeat.db when it exists, then
./zbeat.db."""

import csv
import io
import json
import os
import shutil
import subprocess
import unittest

import zbtest
from monitor_helpers import MonitorCase

COMMANDS = ("status", "outages", "hosts", "monitor", "alerts", "silence", "report")


class CliHelpTest(MonitorCase):

    def test_each_command_has_its_own_help(self):
        rc, general, _ = self.run_cmd([self.cli_bin, "--help"])
        self.assertEqual(rc, 0)
        self.assertIn("help COMMAND", general)
        for command in COMMANDS:
            with self.subTest(command):
                rc, out, err = self.run_cmd([self.cli_bin, command, "--help"])
                self.assertEqual((rc, err), (0, ""))
                self.assertTrue(out.startswith("usage: zbeat [--db PATH] %s" % command), out)
                self.assertNotEqual(out, general)
                self.assertNotIn("commands:", out)
                # The same from `help COMMAND`, -h, and with options first.
                for args in (["help", command], [command, "-h"],
                             ["--db", "x.db", command, "--json", "--help"]):
                    self.assertEqual(self.run_cmd([self.cli_bin] + args), (0, out, ""), args)
        rc, out, _ = self.run_cmd([self.cli_bin, "outages", "--help"])
        for option in ("--host", "--service", "--since", "--until", "--open", "--limit",
                       "--explain"):
            self.assertIn(option, out)
        rc, out, _ = self.run_cmd([self.cli_bin, "silence", "add", "--help"])
        self.assertIn("silence add --host GLOB", out)
        # `help` alone is the general help; `help keygen` is keygen's.
        self.assertEqual(self.run_cmd([self.cli_bin, "help"]), (0, general, ""))
        rc, out, _ = self.run_cmd([self.cli_bin, "help", "keygen"])
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("usage: zbeat keygen"), out)
        rc, out, err = self.run_cmd([self.cli_bin, "help", "uptime"])
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("help: unknown command 'uptime'", err)

    def test_silence_add_prints_json_and_csv(self):
        self.start_monitor()
        rc, out, err = self.cli("silence", "add", "--host", "web-*", "--service", "redis",
                                "--for", "1h", "--reason", "deploy", "--json")
        self.assertEqual(rc, 0, err)
        added = json.loads(out)
        listed = self.cli_json("silence", "list")
        # The shape `silence list --json` has: one parser reads both.
        self.assertEqual(added, listed)
        self.assertEqual((added[0]["id"], added[0]["host"], added[0]["service"],
                          added[0]["reason"], added[0]["active"]),
                         (1, "web-*", "redis", "deploy", True))
        rc, out, err = self.cli("silence", "add", "--host", "db-1", "--for", "2h", "--csv")
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual(len(rows), 1)
        self.assertEqual((rows[0]["id"], rows[0]["host"], rows[0]["service"]), ("2", "db-1", ""))
        # The table keeps its one line.
        rc, out, err = self.cli("silence", "add", "--host", "db-2", "--for", "2h")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^silence 3: db-2/\* until \d{4}-\d\d-\d\dT[0-9:]+Z\n$")

    def in_namespace(self, var_lib, cwd, args, env, user=()):
        """Runs zbeat with var_lib mounted on /var/lib, in a mount namespace
        of its own (the machine's /var/lib is never touched); user: a
        setpriv prefix to run it as another user."""
        script = 'mount --bind "$1" /var/lib && cd "$2" && shift 2 && exec "$@"'
        r = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", var_lib, cwd] +
                           list(user) + [self.cli_bin] + args, env=env, capture_output=True,
                           text=True, timeout=30 * zbtest.SLOW)
        return r.returncode, r.stdout, r.stderr

    def test_default_database_order(self):
        if not shutil.which("unshare"):
            raise unittest.SkipTest("no unshare(1)")
        probe = subprocess.run(["unshare", "-m", "mount", "--bind", self.tmp, self.tmp],
                               capture_output=True)
        if probe.returncode != 0:
            raise unittest.SkipTest("no mount namespaces here: %r" % probe.stderr)
        var_lib = os.path.join(self.tmp, "var-lib")
        os.makedirs(os.path.join(var_lib, "zbeat"))
        self.db = os.path.join(var_lib, "zbeat", "zbeat.db")
        self.start_monitor()
        agent = self.fake("packaged-1")
        agent.beat()
        zbtest.wait_for(lambda: [h for h in self.cli_json("hosts") if h["host"] == "packaged-1"],
                        10, "the host recorded")
        work = os.path.join(self.tmp, "work")
        os.makedirs(work)
        env = dict(os.environ)
        env.pop("ZBEAT_DB", None)

        # No $ZBEAT_DB: the packaged database, since it exists.
        rc, out, err = self.in_namespace(var_lib, work, ["hosts", "--json"], env)
        self.assertEqual(rc, 0, err)
        self.assertEqual([h["host"] for h in json.loads(out)], ["packaged-1"])
        # $ZBEAT_DB comes first, and --db before it.
        rc, _, err = self.in_namespace(var_lib, work, ["hosts"],
                                       dict(env, ZBEAT_DB="/nonexistent.db"))
        self.assertEqual((rc, err.strip()), (1, "zbeat: /nonexistent.db: no such database"))
        rc, out, err = self.in_namespace(var_lib, work, ["--db", self.db, "hosts", "--json"],
                                         dict(env, ZBEAT_DB="/nonexistent.db"))
        self.assertEqual(rc, 0, err)
        # No packaged database: ./zbeat.db.
        empty = os.path.join(self.tmp, "empty-var-lib")
        os.makedirs(empty)
        rc, _, err = self.in_namespace(empty, work, ["hosts"], env)
        self.assertEqual((rc, err.strip()), (1, "zbeat: zbeat.db: no such database"))
        # A user who may not look into the packaged directory (mode 0750,
        # not in the group) is told so, not sent to ./zbeat.db.
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        for path in (self.tmp, work):
            os.chmod(path, 0o755)
        # Only where that user can run the binary at all (a build tree under
        # a private home directory is out of its reach).
        if os.getuid() == 0 and shutil.which("setpriv") and subprocess.run(
                nobody + ["test", "-x", self.cli_bin], cwd=work).returncode == 0:
            os.chmod(os.path.join(var_lib, "zbeat"), 0o700)
            rc, _, err = self.in_namespace(var_lib, work, ["hosts"], env, nobody)
            self.assertEqual(rc, 1, err)
            self.assertRegex(err, r"(?i)^zbeat: /var/lib/zbeat/zbeat\.db: .*permission denied")


if __name__ == "__main__":
    zbtest.main()
