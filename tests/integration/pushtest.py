"""pushtest: helpers for the push tests (docs/push.md).

LineServer plays the agent's push listener in Python, so that zbeat-ping and
the C client can be tested on their own: it records every line each
connection sends, with its receipt time, and answers like the agent would.
"""

import selectors
import socket
import threading
import time

import zbtest


class LineServer:
    """A fake agent listener on 127.0.0.1 in its own thread.

    Modes: 'agent' answers like the agent (OK hello / PONG / OK checkin /
    OK bye, then close; ERR unknown-service for names in `reject`);
    'nopong' says OK hello but nothing afterwards; 'silent' never answers;
    'refuse' is not listening at all (connects are refused).
    """

    def __init__(self, case, mode="agent", reject=(), port=0):
        self.mode = mode
        self.reject = set(reject)
        self._lock = threading.Lock()
        self._sel = selectors.DefaultSelector()
        self._records = []  # one dict per accepted connection
        self._socks = {}  # socket -> record
        self._listener = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._pending = []
        self._stop = False
        self.port = port or zbtest.free_port()
        if mode != "refuse":
            self._listen()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        case.addCleanup(self.close)

    # Test side

    def connections(self):
        """Copies of the connection records: {'lines': [str], 'times': [t],
        'eof': bool, 'eof_t': t or None}, in accept order."""
        with self._lock:
            return [dict(r, lines=list(r["lines"]), times=list(r["times"]))
                    for r in self._records]

    def lines(self, index=-1):
        conns = self.connections()
        return conns[index]["lines"] if conns else []

    def wait_lines(self, pred, timeout, what, index=-1):
        """Waits until pred(lines of connection `index`) is true."""
        def check():
            conns = self.connections()
            if not conns or len(conns) <= index:
                return None
            return pred(conns[index]["lines"]) and conns[index]
        return zbtest.wait_for(check, timeout, what)

    def wait_eof(self, timeout, what, index=-1):
        def check():
            conns = self.connections()
            return conns and len(conns) > index and conns[index]["eof"] and conns[index]
        return zbtest.wait_for(check, timeout, what)

    def set_mode(self, mode):
        def change():
            self.mode = mode
            if mode == "refuse" and self._listener is not None:
                self._sel.unregister(self._listener)
                self._listener.close()
                self._listener = None
            elif mode != "refuse" and self._listener is None:
                self._listen()
                self._sel.register(self._listener, selectors.EVENT_READ, "listen")
        self._call(change)

    def close_all(self):
        """Closes every open connection, as an agent restart would."""
        def drop():
            for s in list(self._socks):
                self._drop(s)
        self._call(drop)

    def send_all(self, text):
        """Sends text to every open connection."""
        def send():
            for s in list(self._socks):
                try:
                    s.send(text.encode())
                except OSError:
                    self._drop(s)
        self._call(send)

    def close(self):
        self._stop = True
        self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    # Server thread

    def _listen(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(128)
        s.setblocking(False)
        self._listener = s

    def _call(self, fn):
        done = threading.Event()
        with self._lock:
            self._pending.append((fn, done))
        self._wake_w.send(b"x")
        if not done.wait(10):
            raise AssertionError("LineServer thread did not respond")

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
        for s in list(self._socks):
            self._drop(s)
        if self._listener is not None:
            self._listener.close()

    def _accept(self):
        while self._listener is not None:
            try:
                s, _ = self._listener.accept()
            except (BlockingIOError, OSError):
                return
            s.setblocking(False)
            record = {"lines": [], "times": [], "eof": False, "eof_t": None, "buf": b""}
            with self._lock:
                self._records.append(record)
                self._socks[s] = record
            self._sel.register(s, selectors.EVENT_READ, "conn")

    def _drop(self, s, eof=False):
        record = self._socks.pop(s, None)
        if record is not None and eof:
            with self._lock:
                record["eof"] = True
                record["eof_t"] = time.monotonic()
        try:
            self._sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()

    def _read(self, s):
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(s, eof=True)
            return
        record = self._socks[s]
        now = time.monotonic()
        buf = record["buf"] + data
        *lines, record["buf"] = buf.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            with self._lock:
                record["lines"].append(line)
                record["times"].append(now)
            reply, close = self._answer(line, record)
            if reply:
                try:
                    s.send(reply.encode() + b"\n")
                except OSError:
                    self._drop(s, eof=True)
                    return
            if close:
                self._drop(s)
                return

    def _answer(self, line, record):
        """(reply or None, close?) for one line, in the current mode."""
        if self.mode == "silent":
            return None, False
        words = line.split(" ")
        if words[0] == "HELLO" and len(words) >= 2:
            if words[1] in self.reject:
                return "ERR unknown-service", True
            return "OK hello", False
        if self.mode == "nopong":
            return None, False
        if line == "PING":
            return "PONG", False
        if line == "CHECKIN":
            return "OK checkin", False
        if line == "BYE":
            return "OK bye", True
        return "ERR bad-command", True
