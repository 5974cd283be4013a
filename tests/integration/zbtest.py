"""zbtest: the integration tests' harness.

Real processes, real sockets, real ZeroMQ. Every wait is a poll on a
condition with a deadline; every process a test starts is killed in
tearDown, and on failure its logs are printed.
"""

import json
import os
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


def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=full_env)
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


class Sub:
    """A bound SUB socket polled by a reader thread from the start, so
    subscriptions reach connecting PUBs (NOTES-zeromq), recording every
    message with its monotonic receipt time."""

    def __init__(self, case=None, endpoint=None):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.setsockopt(zmq.LINGER, 0)
        if endpoint is None:
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
                t = time.monotonic()
                try:
                    record = {"topic": frames[0].decode(), "msg": json.loads(frames[1]), "t": t}
                except (ValueError, IndexError, UnicodeDecodeError):
                    with self._lock:
                        self._bad.append(frames)
                    continue
                with self._lock:
                    self._messages.append(record)

    def messages(self):
        with self._lock:
            return list(self._messages)

    def bad(self):
        with self._lock:
            return list(self._bad)

    def events(self):
        return [m for m in self.messages() if m["msg"].get("type") == "event"]

    def beats(self):
        return [m for m in self.messages() if m["msg"].get("type") == "beat"]

    def wait(self, pred, timeout, what, start=0):
        """The first recorded message (from index start) for which pred is true."""
        def find():
            for m in self.messages()[start:]:
                if pred(m):
                    return m
            return None
        return wait_for(find, timeout, what)

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


def is_event(service, to, host=None):
    """A predicate for Sub.wait: an event of service going to state `to`."""
    def pred(m):
        msg = m["msg"]
        return (msg.get("type") == "event" and msg.get("service") == service
                and msg.get("to") == to and (host is None or msg.get("host") == host))
    return pred


def beat_state(beat, service):
    """The state of service in a beat message dict, or None."""
    for s in beat["msg"].get("services", []):
        if s["name"] == service:
            return s["state"]
    return None


class TcpServer:
    """A test TCP service on 127.0.0.1 in its own thread, with switchable
    behaviour: 'answer' replies +PONG to every line, 'hang' accepts and reads
    but never replies, 'close' accepts and closes at once, 'refuse' closes the
    listening socket so connects are refused."""

    def __init__(self, case=None, port=0, mode="answer", reply=b"+PONG\r\n"):
        self.reply = reply
        self.mode = mode
        self._lock = threading.Lock()
        self._sel = selectors.DefaultSelector()
        self._conns = {}
        self._listener = None
        self.port = port
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._pending = []
        self._stop = False
        self.accepted = 0
        if mode != "refuse":
            self._listen()
        elif not self.port:
            self.port = free_port()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if case is not None:
            case.addCleanup(self.close)

    def _listen(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(4096)
        s.setblocking(False)
        self.port = s.getsockname()[1]
        self._listener = s

    def _call(self, fn):
        """Runs fn in the server thread and waits for it."""
        done = threading.Event()
        with self._lock:
            self._pending.append((fn, done))
        self._wake_w.send(b"x")
        if not done.wait(10):
            raise AssertionError("TcpServer thread did not respond")

    def set_mode(self, mode):
        def change():
            self.mode = mode
            if mode == "refuse":
                if self._listener is not None:
                    self._sel.unregister(self._listener)
                    self._listener.close()
                    self._listener = None
                for c in list(self._conns):
                    self._drop(c)
            else:
                if self._listener is None:
                    self._listen()
                    self._sel.register(self._listener, selectors.EVENT_READ, "listen")
                if mode == "close":
                    for c in list(self._conns):
                        self._drop(c)
        self._call(change)

    def connections(self):
        with self._lock:
            return len(self._conns)

    def _drop(self, conn):
        self._sel.unregister(conn)
        with self._lock:
            del self._conns[conn]
        conn.close()

    def _run(self):
        if self._listener is not None:
            self._sel.register(self._listener, selectors.EVENT_READ, "listen")
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
        for c in list(self._conns):
            self._drop(c)
        if self._listener is not None:
            self._listener.close()

    def _accept(self):
        while self._listener is not None:
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, OSError):
                return
            self.accepted += 1
            if self.mode == "close":
                conn.close()
                continue
            conn.setblocking(False)
            with self._lock:
                self._conns[conn] = b""
            self._sel.register(conn, selectors.EVENT_READ, "conn")

    def _read(self, conn):
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        if self.mode != "answer":
            return
        with self._lock:
            buf = self._conns[conn] + data
            lines = buf.count(b"\n")
            self._conns[conn] = buf[buf.rfind(b"\n") + 1:]
        try:
            conn.send(self.reply * lines)
        except OSError:
            self._drop(conn)

    def close(self):
        self._stop = True
        self._thread.join(timeout=5)


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

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

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
