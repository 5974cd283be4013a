"""pushtest: helpers for the push tests (docs/push.md).

LineServer plays the agent's push listener in Python, so that zbeat-ping and
the C client can be tested on their own: it records every line each
connection sends, with its receipt time, and answers like the agent would.
"""

import time

import zbtest


class LineServer(zbtest.SelectorServer):
    """A fake agent listener on 127.0.0.1 in its own thread.

    Modes: 'agent' answers like the agent (OK hello / PONG / OK checkin /
    OK bye, then close; ERR unknown-service for names in `reject`);
    'nopong' says OK hello but nothing afterwards; 'silent' never answers;
    'refuse' is not listening at all (connects are refused).
    close_all() and send_all(text) come from zbtest.SelectorServer.
    """

    def __init__(self, case, mode="agent", reject=(), port=0):
        self.mode = mode
        self.reject = set(reject)
        self._records = []  # one dict per accepted connection, in accept order
        super().__init__(case, port, listen=mode != "refuse")

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
            self._listening(mode != "refuse")
        self._call(change)

    # Server thread: zbtest.SelectorServer's hooks

    def _open(self, sock):
        record = {"lines": [], "times": [], "eof": False, "eof_t": None, "buf": b""}
        with self._lock:
            self._records.append(record)
        return record

    def _closed(self, record, eof):
        if eof:
            with self._lock:
                record["eof"] = True
                record["eof_t"] = time.monotonic()

    def _data(self, sock, record, data):
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
                    sock.send(reply.encode() + b"\n")
                except OSError:
                    self._drop(sock, eof=True)
                    return
            if close:
                self._drop(sock)
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
