"""zbeat-monitor's configuration: the file, the environment and flags in
that precedence, --check-config, and one clear line plus exit 2 for every
kind of mistake."""

import os
import re
import signal
import socket

import zbtest
from monitor_helpers import MonitorCase


class MonitorConfigTest(MonitorCase):

    def check(self, args, env=None):
        return self.run_cmd([self.monitor_bin] + list(args), env=env)

    def assert_usage_error(self, args, expect, env=None, code=2):
        rc, out, err = self.check(args, env)
        self.assertEqual(rc, code, "exit code for %s: %s" % (args, err))
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "one line on stderr: %r" % err)
        self.assertTrue(lines[0].startswith("zbeat-monitor: "), lines[0])
        self.assertIn(expect, lines[0])
        return lines[0]

    def test_check_config(self):
        path = self.write("m.cfg", "monitor\n    bind = tcp://127.0.0.1:7499  # comment\n"
                                   "    db = /tmp/x.db\n    liveness = 5\n    retention = 30d\n")
        rc, out, err = self.check(["-c", path, "--check-config"])
        self.assertEqual((rc, out.strip(), err), (0, "%s: ok" % path, ""))
        rc, out, _ = self.check(["--check-config"])  # no file at all is fine
        self.assertEqual(rc, 0)

    def test_config_errors_name_file_and_key(self):
        cases = [
            ("monitor\n    liveness = 0\n", "monitor/liveness: 0 is out of range"),
            ("monitor\n    liveness = many\n", "monitor/liveness: \"many\" is not a whole"),
            ("monitor\n    retention = forever\n", "monitor/retention: \"forever\" is not a"),
            ("monitor\n    bind = 7400\n", "monitor/bind: \"7400\" is not an endpoint"),
            ("monitor\n    colour = blue\n", "monitor/colour: unknown key"),
            ("monitor\n    db = a.db\n    db = b.db\n", "monitor/db: given twice"),
            ("agent\n    name = x\n", "agent: unknown key"),
            ("monitor\n  bind = x\n", ":2: "),
        ]
        for text, expect in cases:
            path = self.write("bad.cfg", text)
            line = self.assert_usage_error(["-c", path, "--check-config"], expect)
            self.assertIn(path, line)
            # The same without --check-config: it never starts.
            self.assert_usage_error(["-c", path, "--db", os.path.join(self.tmp, "n.db")], expect)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "n.db")))
        self.assert_usage_error(["-c", os.path.join(self.tmp, "missing.cfg")], "missing.cfg")

    def test_ports_and_empty_values_refused(self):
        # A tcp port is 1 to 65535 in plain digits: ZeroMQ would take
        # "7400x" as 7400 and 99999 as another port, and 0 or * as a port
        # the kernel picks (which no agent could be told).
        for key in ("bind", "publish", "replay"):
            for port in ("99999", "-5", "7400x", "0", "*", ""):
                value = "tcp://127.0.0.1:%s" % port
                path = self.write("port.cfg", "monitor\n    %s = %s\n" % (key, value))
                expect = 'monitor/%s: "%s" needs a port from 1 to 65535' % (key, value)
                line = self.assert_usage_error(["-c", path, "--check-config"], expect)
                self.assertTrue(line.startswith("zbeat-monitor: %s: " % path), line)
                self.assert_usage_error(["-c", path, "--db", self.db], expect)
        for port in ("99999", "-5", "7400x", "0"):
            value = "tcp://127.0.0.1:%s" % port
            self.assert_usage_error(["--check-config", "--bind", value],
                                    '--bind: "%s" needs a port' % value)
            self.assert_usage_error(["--db", self.db], 'ZBEAT_BIND: "%s" needs a port' % value,
                                    env={"ZBEAT_BIND": value})
        self.assertFalse(os.path.exists(self.db), "it never started")
        # db = "" is a mistake, not ./zbeat.db in the working directory.
        for text in ('monitor\n    db = ""\n', "monitor\n    db =\n"):
            path = self.write("db.cfg", text)
            line = self.assert_usage_error(["-c", path, "--check-config"], "monitor/db: is empty")
            self.assertTrue(line.startswith("zbeat-monitor: %s: " % path), line)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "zbeat.db")))

    def test_durations_are_plain_decimal(self):
        for text in ("0x10s", "1e-1s", "1E3ms", ".5s", "1.s", "infs"):
            path = self.write("d.cfg", "monitor\n    retention = %s\n" % text)
            self.assert_usage_error(["-c", path, "--check-config"],
                                    'monitor/retention: "%s" is not a duration' % text)
        path = self.write("d.cfg", "monitor\n    retention = 1.5d\n")
        self.assertEqual(self.check(["-c", path, "--check-config"])[0], 0)

    def test_syntax_error_escapes_control_bytes(self):
        # The line quotes the file; an escape sequence in it must not
        # reach the terminal.
        path = self.write("ctl.cfg", "monitor\n    bi\x1b[2Jnd = x\x07\n")
        line = self.assert_usage_error(["-c", path, "--check-config"], ":2: invalid syntax")
        self.assertIn("\\x1b[2J", line)
        self.assertNotRegex(line, "[\x00-\x1f\x7f]")
        path = self.write("ctl2.cfg", "monitor\n    retention = 1\x1b]0;pwned\x07\n")
        line = self.assert_usage_error(["-c", path, "--check-config"], "monitor/retention: ")
        self.assertIn("\\x1b]0;pwned\\x07", line)
        self.assertNotRegex(line, "[\x00-\x1f\x7f]")

    def test_flag_errors(self):
        self.assert_usage_error(["--liveness", "0"], "--liveness: \"0\"")
        self.assert_usage_error(["--liveness", "101"], "--liveness")
        self.assert_usage_error(["--bind", "nowhere"], "--bind: \"nowhere\" is not an endpoint")
        self.assert_usage_error(["--bogus"], "unknown option '--bogus'")
        self.assert_usage_error(["--db"], "--db needs a value")
        self.assert_usage_error(["extra"], "unexpected argument 'extra'")
        self.assert_usage_error(["--check-config"], "ZBEAT_BIND: \"x\"", env={"ZBEAT_BIND": "x"})
        rc, out, _ = self.check(["--version"])
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("zbeat-monitor "))
        rc, out, _ = self.check(["--help"])
        self.assertEqual(rc, 0)
        self.assertIn("--liveness", out)

    def test_runtime_errors_exit_1(self):
        # The port is taken.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            rc, _, err = self.check(["--db", self.db, "--bind", "tcp://127.0.0.1:%d" % port])
        self.assertEqual(rc, 1)
        self.assertIn("cannot bind", err)
        # The database cannot be created.
        rc, _, err = self.check(["--db", "/nonexistent/dir/z.db", "--bind", self.endpoint])
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent/dir/z.db", err)
        # Not a database at all.
        junk = self.write("junk.db", "hello, this is not a database\n" * 100)
        rc, _, err = self.check(["--db", junk, "--bind", self.endpoint])
        self.assertEqual(rc, 1)
        self.assertIn("junk.db", err)

    def started_with(self, args, env=None, name="m"):
        """Starts the monitor; returns (db, endpoint) from its log."""
        proc = self.start([self.monitor_bin] + args, name, env=env)
        zbtest.wait_for(lambda: "monitor started" in proc.output() or not proc.alive(), 10,
                        "monitor started")
        out = proc.output()
        self.assertEqual(proc.stop(signal.SIGTERM), 0, out)
        db = re.search(r"monitor started: db (\S+),", out).group(1)
        endpoint = re.search(r"listening on (\S+)", out).group(1)
        return db, endpoint

    def test_precedence_flag_env_file_default(self):
        ports = [zbtest.free_port() for _ in range(3)]
        file_db, env_db, flag_db = (os.path.join(self.tmp, n) for n in ("f.db", "e.db", "x.db"))
        path = self.write("m.cfg", "monitor\n    db = %s\n    bind = tcp://127.0.0.1:%d\n"
                          % (file_db, ports[0]))
        env = {"ZBEAT_DB": env_db, "ZBEAT_BIND": "tcp://127.0.0.1:%d" % ports[1]}
        self.assertEqual(self.started_with(["-c", path]),
                         (file_db, "tcp://127.0.0.1:%d" % ports[0]))
        self.assertEqual(self.started_with(["-c", path], env, "m2"),
                         (env_db, "tcp://127.0.0.1:%d" % ports[1]))
        self.assertEqual(self.started_with(["-c", path, "--db", flag_db, "--bind",
                                            "tcp://127.0.0.1:%d" % ports[2]], env, "m3"),
                         (flag_db, "tcp://127.0.0.1:%d" % ports[2]))
        for db in (file_db, env_db, flag_db):
            self.assertTrue(os.path.exists(db), db)


if __name__ == "__main__":
    zbtest.main()
