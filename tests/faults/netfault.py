"""The fault suite's TestCase: a monitor namespace, host namespaces with an
agent and stand-in services each, and the agent's journal as ground truth."""

import os
import signal
import sys
import time
import unittest

import netns
import zbtest
from agent_helpers import agent_config
from fault_helpers import FaultCase, wait_journal_in_db

LISTEN = os.path.join(netns.HERE, "listen.py")


class NetFaultCase(FaultCase):
    def setUp(self):
        ok, why = netns.available()
        if not ok:
            raise unittest.SkipTest(why)
        super().setUp()
        self.net = netns.Net(self)
        self.services = {}  # (host n, name) -> [port, Proc or None]

    # Monitors live in the monitor namespace, bound on every address.
    def start_ns_monitor(self, name="monitor", db=None, port=7400, replay_port=7403,
                         extra=""):
        cfg = self.write("%s.cfg" % name, "monitor\n    replay = tcp://0.0.0.0:%d\n%s"
                         % (replay_port, extra))
        proc = self.start(self.net.exec_args(self.net.mon, [
            self.monitor_bin, "--db", db or self.db, "--bind", "tcp://0.0.0.0:%d" % port,
            "-c", cfg]), name)
        zbtest.wait_for(lambda: "listening on" in proc.output() or not proc.alive(), 10,
                        "%s listening" % name)
        self.assertTrue(proc.alive(), proc.output())
        return proc

    def kill(self, proc):
        proc.stop(signal.SIGKILL)

    # Services: a listener in the host's namespace; killed = down.
    def service(self, n, name, up=True):
        key = (n, name)
        if key not in self.services:
            self.services[key] = [zbtest.free_port(), None]
        port, proc = self.services[key]
        if up and not (proc and proc.alive()):
            proc = self.start(
                self.net.exec_args(self.net.host(n), ["/usr/bin/python3", LISTEN, port]),
                "svc-h%d-%s" % (n, name))
            # Up means accepting: a listener killed before it listened would
            # never have been up, and the down the test waits for never comes.
            zbtest.wait_for(lambda: "listening" in proc.output() or not proc.alive(), 10,
                            "h%d/%s listening" % (n, name))
            self.assertTrue(proc.alive(), proc.output())
            self.services[key][1] = proc
        elif not up and proc:
            proc.stop(signal.SIGKILL)
            self.services[key][1] = None
        return port

    def start_ns_agent(self, n, names, monitors=((7400, 7403),), beat=None, name=None,
                       extra=()):
        """Agent of host n ("h<n>") probing its services, publishing to each
        (port, replay port) of the monitor namespace, journaling to tmp.
        extra: more (key, value) pairs of the agent section."""
        self.journal = os.path.join(self.tmp, "journal-h%d" % n)
        addr = self.net.monitor_addr(n)
        probes = [(svc, {"probe": "127.0.0.1:%d" % self.services[(n, svc)][0],
                         "interval": "200ms", "fails": 1}) for svc in names]
        text = agent_config(
            ", ".join("tcp://%s:%d" % (addr, p) for p, _ in monitors), probes, "h%d" % n, beat,
            keys=(("replay", ", ".join("tcp://%s:%d" % (addr, r) for _, r in monitors)),
                  ("journal", self.journal)) + tuple(extra))
        path = self.write("agent-h%d.cfg" % n, text)
        return self.start(self.net.exec_args(self.net.host(n), [
            zbtest.bin("zbeat-agent"), "-c", path]), name or "agent-h%d" % n)

    def host_row(self, host, db=None):
        rows = [h for h in self.cli_json_db(db, "hosts") if h["host"] == host]
        return rows[0] if rows else None

    def cli_json_db(self, db, *args):
        import json
        rc, out, err = self.cli(*(list(args) + ["--json"]), db=db or self.db)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def wait_matches(self, host, db=None, timeout=30):
        return wait_journal_in_db(self.journal, host, lambda: self.cli_json_db(db, "outages"),
                                  timeout, "database outages match %s's journal" % host)

    def hold(self, since, seconds):
        """The fault lasts this long (from time.monotonic() `since`): the
        duration is the scenario, not a synchronisation."""
        left = since + seconds - time.monotonic()
        if left > 0:
            time.sleep(left)
