"""netns.py cleans up after runs killed before their cleanup (ctest's
timeout, SIGKILL): the killed run's zb-netem dies with it, and reap_stale()
deletes its namespaces, while a live run's namespaces, and names of another
form (another pid namespace, older versions of netns.py), are left alone."""

import os
import select
import signal
import subprocess
import sys
import time
import unittest

import netns
import zbtest

#   A run of its own: one shaped host (a router namespace and a zb-netem),
#   its zb-netem's pid and its namespaces on one line, then it waits until
#   its stdin closes and cleans up as a run that was not killed does.
MAKER = r"""
import sys
sys.path.insert(0, sys.argv[1])
import netns
net = netns.Net(None, tool=sys.argv[2], logdir=sys.argv[3])
net.host(1, shaped="tool")
print(net.shapers[1].proc.pid, " ".join(net.made), flush=True)
sys.stdin.read()
net.close()
"""


def running(pid):
    """pid is a process that has not exited (a zombie has)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class NetnsReapTest(zbtest.TestCase):
    def setUp(self):
        ok, why = netns.available()
        if not ok:
            raise unittest.SkipTest(why)
        super().setUp()
        self.tool = netns.netem_tool()  # skips when not built
        self.extra = []  # namespaces to delete at the end, whatever happened

    def tearDown(self):
        for name in self.extra:
            netns.run("ip", "netns", "del", name, check=False)
        super().tearDown()

    def maker(self):
        """(process, its zb-netem's pid, its namespaces)."""
        p = subprocess.Popen([sys.executable, "-c", MAKER, netns.HERE, self.tool, self.tmp],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             preexec_fn=zbtest.die_with_parent)
        self.addCleanup(self.end, p)
        deadline = time.monotonic() + 60 * zbtest.SLOW
        while not select.select([p.stdout], [], [], 0.1)[0]:
            self.assertIsNone(p.poll(), "the maker exited before its namespaces were made")
            self.assertLess(time.monotonic(), deadline, "the maker's namespaces in 60 s")
        words = p.stdout.readline().split()
        self.assertGreaterEqual(len(words), 4, words)  # zb-netem, monitor, host, router
        self.extra += words[1:]  # deleted at the end in any case (again is harmless)
        return p, int(words[0]), words[1:]

    def end(self, p):
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()
        p.stdin.close()

    def bare(self, name):
        netns.run("ip", "netns", "add", name)
        self.extra.append(name)

    def test_killed_run_is_reaped_and_live_run_is_not(self):
        dead, dead_netem, dead_names = self.maker()
        live, live_netem, live_names = self.maker()
        self.assertTrue(running(dead_netem) and running(live_netem))
        # Names that look like ours but are not this pid namespace's, or
        # have the older form (pid only): their maker cannot be checked.
        other_ns = "zbf%d.1.%d-0-mon" % (dead.pid, os.stat("/proc/self/ns/pid").st_ino + 1)
        older = "zbf%d-0-mon" % dead.pid
        self.bare(other_ns)
        self.bare(older)

        dead.send_signal(signal.SIGKILL)
        dead.wait()
        zbtest.wait_for(lambda: not running(dead_netem), 10,
                        "the killed run's zb-netem to die with it")
        self.assertLessEqual(set(dead_names), set(netns.names()),
                             "a killed run leaves its namespaces")

        gone = netns.reap_stale()
        self.assertLessEqual(set(dead_names), set(gone))
        left = set(netns.names())
        self.assertFalse(set(dead_names) & left)
        self.assertLessEqual(set(live_names) | {other_ns, older}, left)
        self.assertTrue(running(live_netem), "the live run's zb-netem still runs")

        # The live run's own cleanup still finds everything it made.
        live.stdin.close()
        self.assertEqual(live.wait(30 * zbtest.SLOW), 0)
        self.assertFalse(set(live_names) & set(netns.names()))
        self.assertFalse(running(live_netem))


if __name__ == "__main__":
    zbtest.main()
