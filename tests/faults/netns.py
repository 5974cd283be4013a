"""Network namespaces for the fault suite (issue 11): a monitor namespace and
host namespaces, each host joined to the monitor by its own veth pair.

A host made with host(n, shaped=True) can have its link shaped (loss, delay,
jitter: shape()). Where the kernel has sch_netem that is `tc netem` on both
ends of the plain link; where it has not, the host sits behind a router
namespace instead, and zb-netem (tests/faults/zb_netem.c) forwards every
packet between two TUN devices there:

    host ns               router ns                              monitor ns
    eth0 10.253.N.2 ---- zbh 10.253.N.1   zbu 10.251.N.254 ---- zbmN 10.251.N.1
                            |                 |
                  (ip rule iif zbh: table 100 -> TUN zth)
                  (ip rule iif zbu: table 101 -> TUN ztm)
                          zth <-- zb-netem --> ztm

What arrives from the host is routed into zth; zb-netem reads it, and after
its loss and delay writes it into ztm, where the kernel receives it and
forwards it by the main table to the monitor; the reverse likewise. So both
directions are shaped, each with its own draws, as netem on both ends does.

Addresses are private (10.251.N.0/24, 10.253.N.0/24) and exist only inside
namespaces this module creates, so runs side by side never meet. Every
namespace name starts with its maker's identity, zbf<pid>.<start>.<pidns>
(the process's pid, its start time in clock ticks after boot, the inode of
its pid namespace), and everything is deleted at cleanup (deleting a
namespace deletes its veth ends and TUN devices). A run killed before its
cleanup (ctest's timeout, SIGKILL) leaves its namespaces behind: its zb-netem
processes die with it (PR_SET_PDEATHSIG), and the next run's first use of
this module deletes the namespaces whose maker is gone (reap_stale()). A
namespace whose maker still runs, or whose name has another form (another
pid namespace, an older version of this module), is never touched."""

import itertools
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

#   The fault suite shares tests/integration's harness (zbtest, the helpers):
#   ctest puts it on PYTHONPATH; run by hand (or from bench/), it is found
#   beside us.
try:
    import zbtest
except ImportError:
    sys.path.insert(0, os.path.join(HERE, "..", "integration"))
    import zbtest


def run(*args, check=True):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(map(str, args)), r.stderr.strip()))
    return r


def _start_ticks(pid):
    """Process pid's start time (clock ticks after boot), None when there is
    no such process: with the pid, it names one process for good."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _pid_ns():
    return os.stat("/proc/self/ns/pid").st_ino


def owner():
    """This process's part of every namespace name it makes (module doc)."""
    return "zbf%d.%d.%d" % (os.getpid(), _start_ticks(os.getpid()), _pid_ns())


_OWNER_RE = re.compile(r"zbf(\d+)\.(\d+)\.(\d+)-")
_REAPED = []  # pids that have reaped already: once per process


def names():
    """Every namespace `ip netns` knows, ours or not."""
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def reap_stale():
    """Deletes the namespaces an earlier, killed run of this module left
    behind: those whose name says they were made in our pid namespace by a
    process that is gone (no process with that pid and start time). Returns
    the names deleted. Processes still in them (none of ours: zb-netem dies
    with its maker) keep their namespace until they exit; only the name goes."""
    own_ns = _pid_ns()
    gone = []
    for name in names():
        m = _OWNER_RE.match(name)
        # A pid from another pid namespace means nothing here: left alone.
        if not m or int(m.group(3)) != own_ns:
            continue
        if _start_ticks(int(m.group(1))) == int(m.group(2)):
            continue  # its maker runs: a live run's namespace
        if run("ip", "netns", "del", name, check=False).returncode == 0:
            gone.append(name)
    if gone:
        sys.stderr.write("netns: deleted %d namespace(s) left by killed runs: %s\n" % (
            len(gone), " ".join(gone)))
    return gone


def _reap_once():
    if os.getpid() not in _REAPED:
        _REAPED.append(os.getpid())
        reap_stale()


def available():
    """(True, "") when namespaces can be made here, else (False, why)."""
    if os.geteuid() != 0:
        return False, "needs root (ip netns)"
    _reap_once()
    name = owner() + "-probe"
    r = run("ip", "netns", "add", name, check=False)
    if r.returncode != 0:
        return False, "ip netns: " + r.stderr.strip()
    run("ip", "netns", "del", name, check=False)
    return True, ""


_NETEM = []  # the answer of netem_available(), once asked
_NETS = itertools.count()  # Net number within this process: unique names


def netem_available():
    """(True, "") when tc netem works here (the kernel's sch_netem), else why not."""
    if _NETEM:
        return _NETEM[0]
    name = owner() + "-netem"
    run("ip", "netns", "add", name, check=False)
    try:
        r = run("tc", "-n", name, "qdisc", "add", "dev", "lo", "root", "netem", "loss", "1%",
                check=False)
        _NETEM.append((r.returncode == 0, r.stderr.strip()))
        return _NETEM[0]
    finally:
        run("ip", "netns", "del", name, check=False)


def netem_tool():
    """The built zb-netem (skips the test when it is not built)."""
    return zbtest.bin("zb-netem")


class Net:
    """A monitor namespace plus hosts. host(n) returns its namespace name;
    the monitor is reachable from host n at 10.251.n.1.

    case: a unittest.TestCase (cleanup registered, zb-netem's log in its
    tmp), or None (the caller calls close(); bench/ does). tool: the zb-netem
    binary, found in the build when not given."""

    def __init__(self, case=None, tool=None, logdir=None):
        _reap_once()
        self.prefix = "%s-%d" % (owner(), next(_NETS))
        self.mon = self.prefix + "-mon"
        self.hosts = {}
        self.shaped = {}    # host n -> "netem" or "tool": how shape() works for it
        self.routers = {}   # host n -> its router namespace (the "tool" way)
        self.shapers = {}   # host n -> the running zb-netem
        self.final = {}     # host n -> the counts zb-netem printed when it last stopped
        self.tool = tool
        self.logdir = logdir or getattr(case, "tmp", None) or tempfile.gettempdir()
        self.made = []
        if case is not None:
            case.addCleanup(self.close)
        self._ns(self.mon)

    def _ns(self, name):
        run("ip", "netns", "add", name)
        self.made.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def host(self, n, shaped=False):
        """Host n's namespace, made on first use. shaped=True makes its link
        shapeable with shape(): by tc netem where the kernel has it, else
        through a router namespace and zb-netem (shaped="tool": that way in
        any case). A shaped host's link starts unshaped."""
        if n in self.hosts:
            if shaped and n not in self.shaped:
                raise RuntimeError("host %d was made without shaped=True" % n)
            return self.hosts[n]
        name = "%s-h%d" % (self.prefix, n)
        self._ns(name)
        via = None
        if shaped:
            via = "tool" if shaped == "tool" or not netem_available()[0] else "netem"
        if via == "tool":
            self._route(n, name)
        else:
            outer, inner = "zbm%d" % n, "eth0"
            # Created in the monitor's namespace, one end moved to the host's.
            run("ip", "-n", self.mon, "link", "add", outer, "type", "veth", "peer", "name",
                inner, "netns", name)
            run("ip", "-n", self.mon, "addr", "add", "10.251.%d.1/24" % n, "dev", outer)
            run("ip", "-n", name, "addr", "add", "10.251.%d.2/24" % n, "dev", inner)
            run("ip", "-n", self.mon, "link", "set", outer, "up")
            run("ip", "-n", name, "link", "set", inner, "up")
        self.hosts[n] = name
        if via:
            self.shaped[n] = via
        if via == "tool":
            self.shape(n)  # the path forwards only through zb-netem
        return name

    def _route(self, n, host_ns):
        """The router namespace between host n and the monitor (module doc)."""
        router = "%s-r%d" % (self.prefix, n)
        self._ns(router)
        self.routers[n] = router

        def sysctl(key, value):
            run("ip", "netns", "exec", router, "sysctl", "-qw", "%s=%s" % (key, value))
        sysctl("net.ipv4.ip_forward", 1)
        # Packets come back out of the TUN devices with sources the main
        # table routes elsewhere: reverse-path filtering would drop them.
        for dev in ("all", "default"):
            sysctl("net.ipv4.conf.%s.rp_filter" % dev, 0)
        run("ip", "-n", router, "link", "add", "zbh", "type", "veth", "peer", "name", "eth0",
            "netns", host_ns)
        run("ip", "-n", router, "link", "add", "zbu", "type", "veth", "peer", "name",
            "zbm%d" % n, "netns", self.mon)
        for tun in ("zth", "ztm"):
            run("ip", "-n", router, "tuntap", "add", "dev", tun, "mode", "tun")
        run("ip", "-n", router, "addr", "add", "10.253.%d.1/24" % n, "dev", "zbh")
        run("ip", "-n", router, "addr", "add", "10.251.%d.254/24" % n, "dev", "zbu")
        run("ip", "-n", host_ns, "addr", "add", "10.253.%d.2/24" % n, "dev", "eth0")
        run("ip", "-n", self.mon, "addr", "add", "10.251.%d.1/24" % n, "dev", "zbm%d" % n)
        for dev in ("zbh", "zbu", "zth", "ztm"):
            sysctl("net.ipv4.conf.%s.rp_filter" % dev, 0)
            run("ip", "-n", router, "link", "set", dev, "up")
        run("ip", "-n", host_ns, "link", "set", "eth0", "up")
        run("ip", "-n", self.mon, "link", "set", "zbm%d" % n, "up")
        run("ip", "-n", host_ns, "route", "add", "default", "via", "10.253.%d.1" % n)
        run("ip", "-n", self.mon, "route", "add", "10.253.%d.0/24" % n, "via",
            "10.251.%d.254" % n)
        # What arrives from either side goes into that side's TUN device;
        # what zb-netem writes back comes in by the TUN and takes the main
        # table, i.e. the connected route of the other side.
        run("ip", "-n", router, "route", "add", "default", "dev", "zth", "table", "100")
        run("ip", "-n", router, "route", "add", "default", "dev", "ztm", "table", "101")
        run("ip", "-n", router, "rule", "add", "iif", "zbh", "lookup", "100", "pref", "100")
        run("ip", "-n", router, "rule", "add", "iif", "zbu", "lookup", "101", "pref", "101")

    def shape(self, n, loss=0, delay=0, jitter=0, seed=None):
        """loss percent, delay ms +- jitter ms (uniform) on host n's link,
        each way with its own draws, as `tc netem loss L% delay D J` on both
        ends. All zero: unshaped. Returns "netem" or "tool" (how)."""
        via = self.shaped.get(n)
        if via is None:
            raise RuntimeError("host %d was made without shaped=True" % n)
        if via == "netem":
            spec = "loss %g%%" % loss
            if delay or jitter:
                spec += " delay %gms %gms" % (delay, jitter)
            self.netem(n, spec if (loss or delay or jitter) else None)
            return via
        self.stop_shaper(n)
        tool = self.tool or netem_tool()
        log = os.path.join(self.logdir, "zb-netem-h%d.log" % n)
        out = open(log, "ab")
        offset = out.tell()
        args = [tool, "--loss", "%g" % loss, "--delay", "%g" % delay, "--jitter", "%g" % jitter,
                "--seed", str(n if seed is None else seed), "zth", "ztm"]
        # ip netns exec execs zb-netem in place, so the death signal set here
        # is zb-netem's: it dies with the thread that shaped the link.
        proc = subprocess.Popen(self.exec_args(self.routers[n], args), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=zbtest.die_with_parent)
        shaper = _Shaper(proc, out, log, offset)
        self.shapers[n] = shaper
        deadline = time.monotonic() + 10
        while "forwarding" not in shaper.output():
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop_shaper(n)
                raise RuntimeError("zb-netem did not start: " + shaper.output().strip())
            time.sleep(0.01)
        return via

    def counts(self, n):
        """zb-netem's counters for host n: a_* for packets from the host to
        the monitor, b_* for the reverse (in, lost, overflow, out, errors),
        and queued. None where tc netem shapes the link."""
        shaper = self.shapers.get(n)
        if shaper is None:
            return self.final.get(n)
        seen = len(shaper.counts())
        shaper.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while len(shaper.counts()) <= seen:
            if shaper.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("zb-netem printed no counts: " + shaper.output().strip())
            time.sleep(0.01)
        return shaper.counts()[-1]

    def tool_output(self, n):
        shaper = self.shapers.get(n)
        return shaper.output() if shaper else ""

    def stop_shaper(self, n):
        """Stops host n's zb-netem (SIGTERM; the link stops forwarding):
        its exit status, its final counts in self.final[n]."""
        shaper = self.shapers.pop(n, None)
        if shaper is None:
            return None
        if shaper.proc.poll() is None:
            shaper.proc.send_signal(signal.SIGTERM)
            try:
                shaper.proc.wait(10)
            except subprocess.TimeoutExpired:
                shaper.proc.kill()
                shaper.proc.wait()
        counts = shaper.counts()
        shaper.out.close()
        if counts:
            self.final[n] = counts[-1]
        return shaper.proc.returncode

    def host_addr(self, n):
        return ("10.253.%d.2" if n in self.routers else "10.251.%d.2") % n

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
        try:
            # zb-netem first: a process in a namespace keeps it alive.
            for n in list(self.shapers):
                self.stop_shaper(n)
        finally:
            for name in reversed(self.made):
                run("ip", "netns", "del", name, check=False)
            self.made = []


class _Shaper:
    """A running zb-netem: its process and its part of the log."""

    def __init__(self, proc, out, log, offset):
        self.proc, self.out, self.log, self.offset = proc, out, log, offset

    def output(self):
        if not self.out.closed:
            self.out.flush()
        try:
            with open(self.log, "rb") as f:
                f.seek(self.offset)
                return f.read().decode("utf-8", "replace")
        except OSError:  # a test's tmp is removed before its cleanups run
            return ""

    def counts(self):
        """Every counts line so far, as dicts."""
        return [{k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
                for line in self.output().splitlines() if line.startswith("counts ")]
