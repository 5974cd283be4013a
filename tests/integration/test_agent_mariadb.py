"""check = mysql against a real MariaDB server (Debian's mariadb-server,
scripts/deps.sh): a private instance the test makes (its own data directory
from mariadb-install-db, its own socket, a free port on 127.0.0.1, run as
the mysql user), stopped by the test.

The check reads the server's greeting and closes, every interval (never
held): the service is up; `mysqladmin shutdown` takes as long with the
probe attached as without it, and the service is down (refused) within two
intervals of the stop. --probe-once parses the greeting with the agent's
parser: the version and connection id it prints are the server's own
(SELECT VERSION(), CONNECTION_ID())."""

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import zbtest
from agent_helpers import AgentCase

INTERVAL = 0.5
MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin")


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (runs the server as mysql)"
    for tool in ("mariadbd", "mariadb-install-db", "mariadb-admin", "mariadb"):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin"):
            return "%s is not installed (mariadb-server, scripts/deps.sh)" % tool
    try:
        pwd.getpwnam("mysql")
    except KeyError:
        return "no mysql user"
    return None


@unittest.skipIf(skip_reason(), skip_reason())
class MariadbTest(AgentCase):

    def setUp(self):
        super().setUp()
        # The data directory belongs to mysql, as the server runs as mysql.
        self.dir = tempfile.mkdtemp(prefix="zbtest-mariadb-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        shutil.chown(self.dir, "mysql", "mysql")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mysqld.sock")
        self.log = os.path.join(self.dir, "error.log")
        self.port = zbtest.free_port()
        r = subprocess.run(["runuser", "-u", "mysql", "--", "mariadb-install-db", "--no-defaults",
                            "--datadir=" + self.data, "--skip-test-db",
                            "--auth-root-authentication-method=socket"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.proc = None
        self.addCleanup(self.kill)

    def server_start(self):
        self.proc = self.start(["runuser", "-u", "mysql", "--", MARIADBD, "--no-defaults",
                                "--datadir=" + self.data, "--socket=" + self.sock,
                                "--port=%d" % self.port, "--bind-address=127.0.0.1",
                                "--pid-file=" + os.path.join(self.dir, "mysqld.pid"),
                                "--log-error=" + self.log, "--skip-log-bin",
                                "--skip-name-resolve", "--innodb-buffer-pool-size=8M"],
                               "mariadbd")
        zbtest.wait_for(lambda: zbtest.port_open(self.port), 120, "mariadbd listening")

    def server_stop(self):
        """mysqladmin shutdown (a graceful stop: the server closes its
        listener, ends its connections, flushes, exits): (seconds until the
        server process exited, monotonic time it did)."""
        t0 = time.monotonic()
        r = subprocess.run(["mariadb-admin", "--no-defaults", "-S", self.sock, "-u", "root",
                            "shutdown"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.proc.proc.wait(120)
        t1 = time.monotonic()
        return t1 - t0, t1

    def kill(self):
        if self.proc and self.proc.proc.poll() is None:
            self.proc.proc.kill()
            self.proc.proc.wait(30)

    def sql(self, query):
        r = subprocess.run(["mariadb", "--no-defaults", "-S", self.sock, "-u", "root", "-N",
                            "-B", "-e", query], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.strip()

    def allow_loopback(self):
        """A user at 127.0.0.1 (with no privileges): until there is one, the
        server greets a client from there with error 1130."""
        self.sql("CREATE USER IF NOT EXISTS 'zbeat'@'127.0.0.1'")

    def test_probe_once_reads_the_real_greeting(self):
        self.server_start()
        once = [self.agent_bin, "--probe-once", "127.0.0.1:%d" % self.port, "--check", "mysql",
                "--timeout", "5s"]
        # No account for 127.0.0.1: the server's error packet, its words.
        rc, out, err = self.run_cmd(once)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("verdict: down (bad-response: mysql: error 1130: Host '127.0.0.1' is not "
                      "allowed to connect to this MariaDB server)", out)
        self.allow_loopback()
        version = self.sql("SELECT VERSION()")
        rc, out, err = self.run_cmd(once)
        self.assertEqual(rc, 0, out + err)
        m = re.search(r"^mysql: protocol 10, server (\S+), connection id (\d+)$", out, re.M)
        self.assertIsNotNone(m, out)
        # MariaDB puts "5.5.5-" before its version for clients of old.
        self.assertTrue(version.startswith(m.group(1).split("5.5.5-")[-1]), (m.group(1), version))
        # The connection id is the server's: the next connection's is larger.
        self.assertLess(int(m.group(2)), int(self.sql("SELECT CONNECTION_ID()")))
        self.assertIn("verdict: up (ok)", out)

    def test_check_mysql_is_up_and_a_shutdown_is_not_delayed(self):
        self.server_start()
        without, _ = self.server_stop()
        self.server_start()
        self.allow_loopback()
        agent = self.start_agent([("svc", {"probe": "127.0.0.1:%d" % self.port, "check": "mysql",
                                           "interval": "%dms" % (INTERVAL * 1000)})])
        self.wait_subscribed()
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "svc") == "up", 20, "a beat with svc up")
        # A few checks' worth of probing before the stop.
        t0 = time.monotonic()
        zbtest.wait_for(lambda: time.monotonic() - t0 > 4 * INTERVAL, 5, "four more checks")
        start = self.mark()
        took, t_stopped = self.server_stop()
        self.assertLess(took, without + 2.0, "mysqladmin shutdown: %.2fs with the probe, %.2fs "
                        "without" % (took, without))
        down = self.wait_event("svc", "down", 10, start=start)
        self.assertEqual(down["msg"]["reason"], "refused")
        self.assertLess(down["t"] - t_stopped, 2 * INTERVAL,
                        "down %.3fs after the server exited" % (down["t"] - t_stopped))
        # Nothing but up before the stop.
        self.assertEqual([m for m in self.sub.events() if m["msg"]["service"] == "svc" and
                          m["msg"]["to"] != "up" and m["t"] < t_stopped - took], [])
        self.stop_agent(agent)
        # What the server logged about the probe: at MariaDB's default
        # log_warnings = 2, one "Aborted connection" warning per check (a
        # client that closes without logging in), nothing worse.
        with open(self.log, errors="replace") as f:
            lines = [l for l in f.read().splitlines() if "[ERROR]" in l]
        self.assertEqual(lines, [])


if __name__ == "__main__":
    zbtest.main()
