"""Who may open which database: the monitor adds its schema to no other
application's SQLite file, exits 1 at start on a database it cannot write,
and zbeat (read-only) reads a database in a directory it cannot write.

The file-mode cases run the binaries as an unprivileged user (nobody) when
the tests run as root, whom file modes do not stop; as any other user they
run as that user."""

import os
import sqlite3

import zbtest
from monitor_helpers import MonitorCase


def unprivileged():
    """The prefix that runs a command without root's rights."""
    if os.geteuid() != 0:
        return []
    for tool in ("/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"):
        if os.path.exists(tool):
            return [tool, "-u", "nobody", "--"]
    raise zbtest.unittest.SkipTest("root, and no runuser to drop privileges")


def tables(path):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return sorted(r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))
    finally:
        con.close()


class StoreAccessTest(MonitorCase):

    def setUp(self):
        super().setUp()
        # nobody must reach the test's files: the temp dir is root's, 0700.
        os.chmod(self.tmp, 0o755)
        self.as_user = unprivileged()
        self.ro_dirs = []

    def tearDown(self):
        for path in self.ro_dirs:  # writable again, so that it can be deleted
            os.chmod(path, 0o755)
        super().tearDown()

    def read_only_dir(self, path):
        """A directory the test may still empty afterwards."""
        os.chmod(path, 0o555)
        self.ro_dirs.append(path)

    def make_database(self, path):
        """A real zbeat database, closed cleanly (no -wal file left)."""
        self.db = path
        self.start_monitor()
        self.stop_monitor()
        self.assertFalse(os.path.exists(path + "-wal"))

    def run_monitor_once(self, name, prefix=()):
        """Starts the monitor on self.db and waits for it to exit (it must):
        (exit code, output)."""
        proc = self.start(list(prefix) + [self.monitor_bin, "--db", self.db,
                                          "--bind", self.endpoint], name)
        zbtest.wait_for(lambda: not proc.alive(), 10, "the monitor exits at start")
        return proc.wait(), proc.output()

    def write_db(self, *statements):
        """The database file as another program would leave it."""
        con = sqlite3.connect(self.db)
        for statement in statements:
            con.execute(statement)
        con.commit()
        con.close()

    def test_monitor_refuses_another_applications_database(self):
        self.write_db("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)",
                      "INSERT INTO notes (text) VALUES ('keep me')")
        rc, out = self.run_monitor_once("monitor-1")
        self.assertEqual(rc, 1, out)
        self.assertIn("%s: not a zbeat database (it holds another application's tables" % self.db,
                      out)
        self.assertEqual(tables(self.db), ["notes"], "no zbeat table added")
        # An application_id of another application: refused too, by the
        # monitor and by zbeat.
        os.unlink(self.db)
        self.write_db("PRAGMA application_id = 1234", "CREATE TABLE outages (id INTEGER)",
                      "PRAGMA user_version = 1")
        rc, out = self.run_monitor_once("monitor-2")
        self.assertEqual(rc, 1, out)
        self.assertIn("application_id 0x000004d2 is another application's", out)
        rc, _, err = self.cli("status")
        self.assertEqual(rc, 1)
        self.assertIn("not a zbeat database", err)
        self.assertEqual(tables(self.db), ["outages"])

    def test_monitor_exits_when_it_cannot_write_its_database(self):
        self.make_database(os.path.join(self.tmp, "zbeat.db"))
        # A read-only file in a directory it may write.
        ro = os.path.join(self.tmp, "rofile")
        os.mkdir(ro)
        os.chmod(ro, 0o777)
        os.rename(self.db, os.path.join(ro, "zbeat.db"))
        self.db = os.path.join(ro, "zbeat.db")
        os.chmod(self.db, 0o444)
        rc, out = self.run_monitor_once("monitor-3", self.as_user)
        self.assertEqual(rc, 1, out)
        self.assertIn("%s: cannot write the database: the file is read-only" % self.db, out)
        self.assertNotIn("monitor started", out)
        # A writable file in a directory it may not write (no -wal, -shm).
        rodir = os.path.join(self.tmp, "rodir")
        os.mkdir(rodir)
        os.rename(self.db, os.path.join(rodir, "zbeat.db"))
        for name in os.listdir(ro):  # what the refused start left
            os.unlink(os.path.join(ro, name))
        self.db = os.path.join(rodir, "zbeat.db")
        os.chmod(self.db, 0o666)
        self.read_only_dir(rodir)
        rc, out = self.run_monitor_once("monitor-4", self.as_user)
        self.assertEqual(rc, 1, out)
        self.assertIn("%s: cannot write the database" % self.db, out)
        self.assertNotIn("monitor started", out)

    def test_cli_reads_a_database_in_a_read_only_directory(self):
        rodir = os.path.join(self.tmp, "ro")
        os.mkdir(rodir)
        os.chmod(rodir, 0o755)
        self.make_database(os.path.join(rodir, "zbeat.db"))
        agent_db = self.db
        os.chmod(agent_db, 0o444)
        self.read_only_dir(rodir)
        before = sorted(os.listdir(rodir))
        for command in (["status"], ["outages"], ["hosts", "--json"], ["monitor"]):
            rc, out, err = self.run_cmd(self.as_user + [self.cli_bin, "--db", agent_db] + command)
            self.assertEqual(rc, 0, "zbeat %s: %s" % (" ".join(command), err))
            self.assertEqual(err, "")
        rc, out, _ = self.run_cmd(self.as_user + [self.cli_bin, "--db", agent_db, "monitor"])
        self.assertIn("stopped", out)
        self.assertEqual(sorted(os.listdir(rodir)), before, "the reader created nothing")
        # A path that needs escaping in a URI reads the same.
        odd = os.path.join(self.tmp, "a dir?#%")
        os.mkdir(odd)
        os.chmod(rodir, 0o755)
        os.rename(agent_db, os.path.join(odd, "zbeat.db"))
        self.read_only_dir(odd)
        rc, out, err = self.run_cmd(self.as_user + [self.cli_bin, "--db",
                                                    os.path.join(odd, "zbeat.db"), "status"])
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    zbtest.main()
