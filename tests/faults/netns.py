"""Network namespaces for the fault suite (issue 11): a monitor namespace and
host namespaces, each host joined to the monitor by its own veth pair.

Addresses are private (10.251.N.0/24) and exist only inside namespaces this
module creates; every name carries the test's pid, and everything is deleted
at cleanup (deleting a namespace deletes its veth ends)."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import zbtest  # noqa: E402


def run(*args, check=True):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(map(str, args)), r.stderr.strip()))
    return r


def available():
    """(True, "") when namespaces can be made here, else (False, why)."""
    if os.geteuid() != 0:
        return False, "needs root (ip netns)"
    name = "zbf%d-probe" % os.getpid()
    r = run("ip", "netns", "add", name, check=False)
    if r.returncode != 0:
        return False, "ip netns: " + r.stderr.strip()
    run("ip", "netns", "del", name, check=False)
    return True, ""


def netem_available():
    """(True, "") when tc netem works here (the kernel's sch_netem), else why not."""
    name = "zbf%d-netem" % os.getpid()
    run("ip", "netns", "add", name, check=False)
    try:
        r = run("tc", "-n", name, "qdisc", "add", "dev", "lo", "root", "netem", "loss", "1%",
                check=False)
        return r.returncode == 0, r.stderr.strip()
    finally:
        run("ip", "netns", "del", name, check=False)


class Net:
    """A monitor namespace plus hosts. host(n) returns its namespace name;
    the monitor is reachable from host n at 10.251.n.1."""

    def __init__(self, case):
        self.prefix = "zbf%d-%d" % (os.getpid(), id(case) % 10000)
        self.mon = self.prefix + "-mon"
        self.hosts = {}
        self.made = []
        case.addCleanup(self.close)
        self._ns(self.mon)

    def _ns(self, name):
        run("ip", "netns", "add", name)
        self.made.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def host(self, n):
        if n in self.hosts:
            return self.hosts[n]
        name = "%s-h%d" % (self.prefix, n)
        self._ns(name)
        outer, inner = "zbm%d" % n, "eth0"
        # Created in the monitor's namespace, one end moved to the host's.
        run("ip", "-n", self.mon, "link", "add", outer, "type", "veth", "peer", "name", inner,
            "netns", name)
        run("ip", "-n", self.mon, "addr", "add", "10.251.%d.1/24" % n, "dev", outer)
        run("ip", "-n", name, "addr", "add", "10.251.%d.2/24" % n, "dev", inner)
        run("ip", "-n", self.mon, "link", "set", outer, "up")
        run("ip", "-n", name, "link", "set", inner, "up")
        self.hosts[n] = name
        return name

    def monitor_addr(self, n):
        return "10.251.%d.1" % n

    def link(self, n, up):
        """Cuts (or restores) host n's link, on the monitor's side."""
        run("ip", "-n", self.mon, "link", "set", "zbm%d" % n, "up" if up else "down")

    def netem(self, n, spec):
        """tc netem on both ends of host n's link, e.g. "loss 10% delay 100ms 100ms";
        None removes it."""
        for ns, dev in ((self.mon, "zbm%d" % n), (self.hosts[n], "eth0")):
            run("tc", "-n", ns, "qdisc", "del", "dev", dev, "root", check=False)
            if spec:
                run("tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "netem", *spec.split())

    def nft_loss(self, n, percent):
        """Drops percent% of packets leaving either end of host n's link
        (nftables, for kernels without sch_netem); 0 removes the rule."""
        for ns, dev in ((self.mon, "zbm%d" % n), (self.hosts[n], "eth0")):
            run("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "zbfault",
                check=False)
            if percent:
                run("ip", "netns", "exec", ns, "nft", "add", "table", "inet", "zbfault")
                run("ip", "netns", "exec", ns, "nft", "add chain inet zbfault out "
                    "{ type filter hook output priority 0; }")
                run("ip", "netns", "exec", ns, "nft", 'add rule inet zbfault out meta oifname '
                    '"%s" numgen random mod 100 < %d drop' % (dev, percent))

    def exec_args(self, ns, args):
        return ["ip", "netns", "exec", ns] + [str(a) for a in args]

    def close(self):
        for name in reversed(self.made):
            run("ip", "netns", "del", name, check=False)
        self.made = []
