"""zbtest: the integration tests' harness.

Real processes, real sockets, real ZeroMQ. Every wait is a poll on a
condition with a deadline; every process a test starts is killed in
tearDown, and on failure its logs are printed.
"""

import ctypes
import json
import os
import random
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import zmq

BUILD_DIR = os.environ.get("ZB_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SOURCE_DIR = os.environ.get("ZB_SOURCE_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..")

# Deadlines stretch under sanitizers and valgrind; assertions about timing
# do not, they are written against the configured intervals.
SLOW = float(os.environ.get("ZB_TEST_SLOW", "1"))


def bin(name):
    """Path of a built binary."""
    path = os.path.join(BUILD_DIR, "bin", name)
    if not os.path.exists(path):
        raise unittest.SkipTest("%s is not built" % name)
    return path


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


_EPHEMERAL = _ephemeral_range()
_HANDED_OUT = set()


def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1, for a process
    under test to bind later.

    Taken from below the kernel's ephemeral range: a port the kernel picked
    for bind(0) is soon picked again as the local port of some outgoing
    connection (an agent's, a CLI's), which then holds it when the process
    under test binds it ("Address already in use"). Below the range only
    another test can take it; a port is never handed out twice by one
    process, and a random start keeps parallel test processes apart."""
    low = 10000
    high = max(low + 1000, _EPHEMERAL[0] - 1)
    for _ in range(1000):
        port = random.randint(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port in %d-%d" % (low, high))


def wait_for(pred, timeout, what):
    """Polls pred() every 10 ms until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for: %s" % (timeout * SLOW, what))
        time.sleep(0.01)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


#   Looked up once here: the child between fork and exec should do no more
#   than call it.
_LIBC = ctypes.CDLL(None, use_errno=True)
_PRCTL = _LIBC.prctl
_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """Popen's preexec_fn for every child of a test (Proc, netns.py's
    zb-netem): SIGKILL when the thread that started it dies, so a test
    killed by ctest's timeout leaves nothing running."""
    _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


_LIBC.ptrace.restype = ctypes.c_long
_LIBC.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_PTRACE_DETACH, _PTRACE_SEIZE, _PTRACE_INTERRUPT = 17, 0x4206, 0x4207
_WALL = 0x40000000


#   System calls a thread waits in for a while (poll, ppoll, and the
#   restart_syscall a poll or a sleep resumes with after a ptrace stop), by
#   architecture: a thread stopped in one holds none of its own locks.
POLL_SYSCALLS = {"x86_64": {7, 271, 219}, "aarch64": {73, 128}}.get(os.uname().machine, set())


class FrozenThread:
    """with FrozenThread(pid, name): one thread of a running process (by
    its name in /proc), and only it, held stopped by ptrace while the rest
    runs; let go at the end of the block, or when this process dies. Stop
    the process only after the block: its threads may wait for this one.
    syscalls: stop it only while it waits in one of these (e.g.
    POLL_SYSCALLS); stopped elsewhere, it is let go and stopped again."""

    def __init__(self, pid, name, syscalls=None, timeout=10):
        def tid():
            for t in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                    if f.read().strip() == name:
                        return int(t)
        self.pid, self.syscalls, self.timeout = pid, syscalls, timeout
        self.tid = wait_for(tid, timeout, "thread %s of %d" % (name, pid))

    def _ptrace(self, request):
        if _LIBC.ptrace(request, self.tid, None, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "ptrace(%d, %d): %s" % (request, self.tid, os.strerror(err)))

    def _stop(self):
        self._ptrace(_PTRACE_SEIZE)
        self._ptrace(_PTRACE_INTERRUPT)
        os.waitpid(self.tid, _WALL)  # until it has stopped
        if self.syscalls is None:
            return True
        with open("/proc/%d/task/%d/syscall" % (self.pid, self.tid)) as f:
            if int(f.read().split()[0]) in self.syscalls:
                return True
        self._ptrace(_PTRACE_DETACH)
        return False

    def __enter__(self):
        wait_for(self._stop, self.timeout, "thread %d stopped in %s" % (self.tid, self.syscalls))
        return self

    def __exit__(self, *exc):
        self._ptrace(_PTRACE_DETACH)


class Proc:
    """A child process with its output in a log file."""

    def __init__(self, args, name, logdir, env=None):
        self.name = name
        self.args = [str(a) for a in args]
        self.log_path = os.path.join(logdir, "%s.log" % name)
        self.log = open(self.log_path, "ab")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        # Each child leads its own process group so close() can take its
        # children too (nginx's workers outlive a killed master), and dies
        # with the test (PR_SET_PDEATHSIG) when ctest kills a test that ran
        # out of time, so no server outlives the run that started it.
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=full_env,
                                     start_new_session=True, preexec_fn=die_with_parent)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout=10):
        return self.proc.wait(timeout=timeout * SLOW)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends sig and waits for the exit; SIGKILL if it does not come."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, sig)
                return self.proc.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        self.stop(signal.SIGKILL)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass  # the group is gone: nothing was left behind
        self.log.close()


class Redis:
    """A real redis-server on a free port, started and stopped by the test."""

    def __init__(self, case, port=None):
        self.case = case
        self.port = port or free_port()
        self.proc = None
        self.start()

    def start(self):
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = self.case.start([exe, "--port", self.port, "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--daemonize", "no"],
                                    "redis-%d" % self.port)
        wait_for(lambda: port_open(self.port), 10, "redis on port %d" % self.port)

    def kill(self):
        self.proc.stop(signal.SIGKILL)

    def stop(self, sig=signal.SIGTERM):
        self.proc.stop(sig)

    def restart(self):
        self.kill()
        self.start()


class SubReader:
    """A SUB socket read by a thread in a poll loop from the moment it
    exists, recording every message that passes its topic filter.

    Bound by default: the agents' and FakeAgents' PUBs connect to it, and a
    bound SUB sends its subscription to a connecting PUB only while it is
    polled (NOTES-zeromq), so the thread polls before anyone publishes.
    connect=True instead for a stream whose PUB binds (the monitor's
    publish endpoint). topics: the prefixes subscribed to (str or bytes).
    _record(frames, t) makes the record kept for a message; frames it
    cannot read (ValueError, IndexError) are kept apart, in bad()."""

    def __init__(self, case=None, endpoint=None, topics=("",), connect=False):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        for topic in topics:
            self.sock.setsockopt(zmq.SUBSCRIBE,
                                 topic.encode() if isinstance(topic, str) else topic)
        self.sock.setsockopt(zmq.LINGER, 0)
        if connect:
            self.sock.connect(endpoint)
        elif endpoint is None:
            port = self.sock.bind_to_random_port("tcp://127.0.0.1")
            endpoint = "tcp://127.0.0.1:%d" % port
        else:
            self.sock.bind(endpoint)
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._messages = []
        self._bad = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if case is not None:
            case.addCleanup(self.close)

    def _record(self, frames, t):
        """The record kept for one message: {'topic', 'msg' (JSON), 't'}."""
        return {"topic": frames[0].decode(), "msg": json.loads(frames[1]), "t": t}

    def _run(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self._stop:
            if not poller.poll(20):
                continue
            while True:
                try:
                    frames = self.sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                try:
                    # UnicodeDecodeError is a ValueError.
                    record = self._record(frames, time.monotonic())
                except (ValueError, IndexError):
                    with self._lock:
                        self._bad.append(frames)
                    continue
                with self._lock:
                    self._messages.append(record)

    def messages(self):
        with self._lock:
            return list(self._messages)

    def bad(self):
        """The raw frames of messages _record could not read."""
        with self._lock:
            return list(self._bad)

    def wait(self, pred, timeout, what, start=0):
        """The first recorded message (from index start) for which pred is true."""
        def find():
            for m in self.messages()[start:]:
                if pred(m):
                    return m
            return None
        return wait_for(find, timeout, what)

    def close(self):
        if self._stop:
            return
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


class Sub(SubReader):
    """The agents' receiving end: a bound SubReader whose records are
    {'topic', 'msg', 't'}, with the agent protocol's message kinds."""

    def events(self):
        return [m for m in self.messages() if m["msg"].get("type") == "event"]

    def beats(self):
        return [m for m in self.messages() if m["msg"].get("type") == "beat"]


def is_event(service, to, host=None):
    """A predicate for Sub.wait: an event of service going to state `to`."""
    def pred(m):
        msg = m["msg"]
        return (msg.get("type") == "event" and msg.get("service") == service
                and msg.get("to") == to and (host is None or msg.get("host") == host))
    return pred


def at_s(record):
    """An agent event's at_ms in seconds of wall time (time.time()): when
    the agent saw the transition, free of this process's reader-thread
    lateness. Compare it with time.time() taken around the fault."""
    return record["msg"]["at_ms"] / 1000.0


def sent_s(record):
    """A message's time_ms (the agent's send time) in seconds of wall time."""
    return record["msg"]["time_ms"] / 1000.0


def grid_lateness(sent_ms, period_ms):
    """Each beat's lateness (ms) against the agent's beat grid, from the
    agent's send times (time_ms) of consecutive beats: beat k is due at
    slot0 + k*period and goes out when due or later, and a beat less than
    a period late does not move the next. The grid is anchored at the
    least late beat. A beat a whole period or more late starts a new grid
    (the agent's "next beat one beat away after a stall"): a beat a period
    or more behind the least late one so far starts a new segment. Returns
    (lateness list per segment, longest segment length).

    A cadence that drifts (next = send time + period) accumulates lateness,
    a catch-up burst sits a period early, beats at a wrong period walk off
    the grid; a single late beat under load does none of these."""
    segments = []
    for t in sent_ms:
        if segments:
            offsets = segments[-1]
            o = t - len(offsets) * period_ms
            if o < min(offsets) + period_ms:
                offsets.append(o)
                continue
        segments.append([t])
    late = [[o - min(offsets) for o in offsets] for offsets in segments]
    return late, max(len(seg) for seg in segments)


def grid_tolerance(period_ms):
    """How late one beat may be against its grid where a single beat is
    judged on its own: half a period (times SLOW, but under a period: a
    beat a period late starts a new grid). assert_beat_grid judges the
    beats together instead, so that one late wake-up is no failure."""
    return min(period_ms / 2 * SLOW, 0.9 * period_ms)


def assert_beat_grid(case, sent_ms, period_ms, min_beats):
    """Asserts that beats sent at sent_ms (the agent's time_ms of
    consecutive beats) keep the agent's grid (grid_lateness), judged from
    most beats rather than from every one: lateness is one-sided (a beat
    is never sent before its slot), so the least late beats show the grid,
    and a late wake-up under load (any lateness under a period) fails none
    of these:

    - at least min_beats on one grid;
    - no beat a period or more late against its grid (the agent starts a
      new grid instead), but a grid's first beat, which the agent may have
      judged less late than its send time shows: up to two periods. The
      beats of a catch-up burst after a stall of three beats or more sit
      a period and more early against those after them;
    - on each grid of 4 or more, at least half the beats within 25 ms
      (times SLOW) of their slots: an irregular cadence, or one at a wrong
      period, is off them;
    - on each grid of 6 or more, the cadence back on its slot (within
      25 ms) among the last third (3 beats at least): a cadence that keeps
      each late beat's lateness (next = send time + period), or drifts by
      a few ms a beat, stays off."""
    late, longest = grid_lateness(sent_ms, period_ms)
    why = "beat lateness (ms) against the grid: %s" % late
    case.assertGreaterEqual(longest, min_beats, why)
    near = min(25 * SLOW, period_ms / 4)
    for seg in late:
        case.assertLess(seg[0], 2 * period_ms, why)
        case.assertTrue(all(x < period_ms for x in seg[1:]), why)
        if len(seg) >= 4:
            case.assertGreaterEqual(sum(1 for x in seg if x < near) * 2, len(seg),
                                    "most beats off the grid: " + why)
        if len(seg) >= 6:
            case.assertLess(min(seg[-max(3, len(seg) // 3):]), near,
                            "the cadence did not come back to its grid: " + why)


def beat_state(beat, service):
    """The state of service in a beat message dict, or None."""
    for s in beat["msg"].get("services", []):
        if s["name"] == service:
            return s["state"]
    return None


class SelectorServer:
    """A TCP server on 127.0.0.1 in its own thread: one selector over the
    listening socket, the connections and a wake pipe through which the test
    thread has functions run in the server thread (_call), so only that thread
    ever touches the sockets.

    Subclasses say what a connection is through three hooks, all run in the
    server thread: _open(sock) returns the connection's record (None: close
    it at once), _data(sock, record, data) handles what it sent, and
    _closed(record, eof) hears that it went (eof: the peer closed or failed,
    not we).
    Records live in self._conns (socket -> record); change them under
    self._lock when the test thread reads them.

    listen=False starts with no listening socket (connects are refused) on
    a port that was free; _listening(on), in the server thread, switches.
    Attributes a subclass's hooks read must be set before this __init__
    starts the thread."""

    def __init__(self, case=None, port=0, listen=True, backlog=4096):
        self._lock = threading.Lock()
        self._sel = selectors.DefaultSelector()
        self._conns = {}
        self._listener = None
        self._backlog = backlog
        self.port = port
        self.accepted = 0  # connections accepted, also those closed at once
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._pending = []
        self._stop = False
        self._done = False
        if listen:
            self._listen()
        elif not self.port:
            self.port = free_port()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if case is not None:
            case.addCleanup(self.close)

    # Hooks

    def _open(self, sock):
        return {}

    def _data(self, sock, record, data):
        pass

    def _closed(self, record, eof):
        pass

    # Test side

    def close_all(self):
        """Closes every open connection, as a restarting server would."""
        self._call(self._drop_all)

    def send_all(self, data):
        """Sends data (str or bytes) to every open connection."""
        data = data.encode() if isinstance(data, str) else data

        def send():
            for s in list(self._conns):
                try:
                    s.send(data)
                except OSError:
                    self._drop(s, eof=True)
        self._call(send)

    def close(self):
        if self._done:
            return
        self._done = True
        self._stop = True
        self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def _call(self, fn):
        """Runs fn in the server thread and waits for it."""
        done = threading.Event()
        with self._lock:
            self._pending.append((fn, done))
        self._wake_w.send(b"x")
        if not done.wait(10 * SLOW):
            raise AssertionError("%s thread did not respond" % type(self).__name__)

    # Server thread

    def _listening(self, on):
        """Listens again on the same port, or closes the listening socket."""
        if on and self._listener is None:
            self._listen()
        elif not on and self._listener is not None:
            self._sel.unregister(self._listener)
            self._listener.close()
            self._listener = None

    def _listen(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(self._backlog)
        s.setblocking(False)
        self.port = s.getsockname()[1]
        self._listener = s
        self._sel.register(s, selectors.EVENT_READ, "listen")

    def _run(self):
        while not self._stop:
            for key, _ in self._sel.select(0.1):
                if key.data == "wake":
                    self._wake_r.recv(4096)
                    with self._lock:
                        pending, self._pending = self._pending, []
                    for fn, done in pending:
                        fn()
                        done.set()
                elif key.data == "listen":
                    self._accept()
                else:
                    self._read(key.fileobj)
        self._drop_all()
        self._listening(False)

    def _accept(self):
        while self._listener is not None:
            try:
                s, _ = self._listener.accept()
            except OSError:  # BlockingIOError included: none left
                return
            self.accepted += 1
            record = self._open(s)
            if record is None:
                s.close()
                continue
            s.setblocking(False)
            with self._lock:
                self._conns[s] = record
            self._sel.register(s, selectors.EVENT_READ, "conn")

    def _read(self, s):
        record = self._conns.get(s)
        if record is None:  # dropped earlier in the same select() batch
            return
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(s, eof=True)
            return
        self._data(s, record, data)

    def _drop(self, s, eof=False):
        """Closes a connection (eof: the peer's doing, not ours)."""
        with self._lock:
            record = self._conns.pop(s, None)
        try:
            self._sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()
        if record is not None:
            self._closed(record, eof)

    def _drop_all(self):
        for s in list(self._conns):
            self._drop(s)


class TcpServer(SelectorServer):
    """A test TCP service with switchable behaviour: 'answer' replies
    +PONG to every line, 'hang' accepts and reads but never replies, 'close'
    accepts and closes at once, 'refuse' closes the listening socket so
    connects are refused."""

    def __init__(self, case=None, port=0, mode="answer", reply=b"+PONG\r\n"):
        self.reply = reply
        self.mode = mode
        super().__init__(case, port, listen=mode != "refuse")

    def set_mode(self, mode):
        def change():
            self.mode = mode
            self._listening(mode != "refuse")
            if mode in ("refuse", "close"):
                self._drop_all()
        self._call(change)

    def connections(self):
        """How many connections are open."""
        with self._lock:
            return len(self._conns)

    def held_connections(self):
        """How many open connections have sent something: a held probe's
        connection, not the bare connects it makes beside it to see that
        the listener is still there."""
        with self._lock:
            return sum(1 for r in self._conns.values() if r and r.get("used"))

    def _open(self, sock):
        return None if self.mode == "close" else {"buf": b""}

    def _data(self, sock, record, data):
        record["used"] = True
        if self.mode != "answer":
            return
        buf = record["buf"] + data
        lines = buf.count(b"\n")
        record["buf"] = buf[buf.rfind(b"\n") + 1:]
        try:
            sock.send(self.reply * lines)
        except OSError:
            self._drop(sock, eof=True)


class TestCase(unittest.TestCase):
    """Gives each test a temp dir, process management and helpers."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zbtest-")
        self.procs = []

    def tearDown(self):
        failed = self._failed()
        for p in reversed(self.procs):
            p.stop(signal.SIGKILL)
        for p in self.procs:
            if failed:
                sys.stderr.write("\n----- %s (%s) -----\n%s" % (p.name, " ".join(p.args),
                                                               p.output()[-20000:]))
            p.close()
        if failed and os.environ.get("ZB_KEEP_TMP") == "1":
            sys.stderr.write("\nkept %s (ZB_KEEP_TMP=1)\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        result = getattr(outcome, "result", None)
        if result is not None:  # Python 3.11
            return any(test is self for test, _ in result.failures + result.errors)
        errors = getattr(outcome, "errors", [])
        return any(exc for _, exc in errors)

    def start(self, args, name, env=None):
        p = Proc(args, name, self.tmp, env)
        self.procs.append(p)
        return p

    def start_agent_config(self, text, name, cfg=None, args=()):
        """A real zbeat-agent on config text, written to tmp/CFG (default
        NAME.cfg); every suite's start_agent comes here."""
        path = self.write(cfg or "%s.cfg" % name, text)
        return self.start([bin("zbeat-agent"), "-c", path] + list(args), name)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def small_tmpfs(self, size="2m"):
        """A tmpfs of `size` mounted in tmp (a disk that fills up), unmounted
        at cleanup; skips the test without root or mount."""
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a tmpfs")
        mnt = os.path.join(self.tmp, "small")
        os.mkdir(mnt)
        mount = ["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", mnt]
        if subprocess.run(mount).returncode:
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        return mnt

    def fill_disk(self, mnt):
        """Fills the file system at mnt to the last byte; returns the file
        that does (unlink it to free the space)."""
        filler = os.path.join(mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 512) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        return filler

    def redis(self, port=None):
        return Redis(self, port)

    def sub(self, endpoint=None):
        return Sub(self, endpoint)

    def run_cmd(self, args, env=None, timeout=30, input=None):
        """Runs a command to completion: (exit code, stdout, stderr)."""
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        r = subprocess.run([str(a) for a in args], capture_output=True, env=full_env,
                           timeout=timeout * SLOW, input=input)
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8",
                                                                                    "replace")


def main():
    unittest.main(verbosity=2)
