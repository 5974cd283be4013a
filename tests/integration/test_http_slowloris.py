"""Slow HTTP clients (issue 18, point 4): more slowloris connections than the
server has slots, each sending one byte a second of headers that never end,
and reconnecting whenever it is cut. /healthz and the API must still answer
every probe promptly, and the slow connections must be cut (evicted to keep
slots free, or at the total header deadline) however steadily they send."""

import errno
import socket
import threading
import time

import zbtest
from http_helpers import HttpCase, request

CLIENTS = 80           # more than the server's 64 connections
ATTACK_S = 25          # longer than the 10 s header deadline
PROBE_BOUND_S = 1.0    # each probe answered within this (times ZB_TEST_SLOW)
BYTE_EVERY_S = 1.0     # one byte per connection per second
#   Headers that never end: after the request line, one header after another.
REQUEST = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n"
FILLER = b"X-Slow: a\r\n"


class Slowloris:
    """CLIENTS sockets, one byte each per BYTE_EVERY_S, from one thread."""

    def __init__(self, port):
        self.port = port
        self.done = threading.Event()
        self.cuts = 0          # connections the server closed
        self.connects = 0
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setblocking(False)
        self.connects += 1
        return [s, 0]

    def _send_byte(self, conn):
        s, sent = conn
        data = REQUEST if sent < len(REQUEST) else FILLER
        i = sent if sent < len(REQUEST) else (sent - len(REQUEST)) % len(FILLER)
        s.send(data[i:i + 1])
        conn[1] += 1

    def _closed(self, s):
        try:
            return s.recv(4096) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _run(self):
        conns = []
        try:
            for _ in range(CLIENTS):
                conns.append(self._connect())
            while not self.done.wait(BYTE_EVERY_S):
                for k, conn in enumerate(conns):
                    if self._closed(conn[0]):
                        self.cuts += 1
                        conn[0].close()
                        conns[k] = conn = self._connect()
                    try:
                        self._send_byte(conn)
                    except OSError as e:
                        if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                            raise
        except Exception as e:  # reported by the test
            self.errors.append(repr(e))
        finally:
            for s, _ in conns:
                s.close()

    def start(self):
        self.thread.start()

    def stop(self):
        self.done.set()
        self.thread.join(30)


class SlowlorisTest(HttpCase):

    def setUp(self):
        super().setUp()
        self.start_http_monitor()

    def test_probes_answer_under_slowloris(self):
        attack = Slowloris(self.http_port)
        attack.start()
        self.addCleanup(attack.stop)
        probes = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < ATTACK_S:
            path = "/healthz" if len(probes) % 4 else "/api/v1/status"
            start = time.monotonic()
            try:
                status = request(self.http_port, path, timeout=5).status
            except OSError as e:
                status = repr(e)
            probes.append((path, status, time.monotonic() - start))
            time.sleep(0.25)
        attack.stop()
        self.assertEqual(attack.errors, [])
        worst = max(took for _, _, took in probes)
        failed = [p for p in probes if p[1] != 200 or p[2] > PROBE_BOUND_S * zbtest.SLOW]
        print("slowloris: %d clients, %d connects, %d cut by the server; %d probes, "
              "worst %.0f ms, %d failed" % (CLIENTS, attack.connects, attack.cuts, len(probes),
                                            worst * 1000, len(failed)))
        self.assertEqual(failed, [])
        self.assertGreater(len(probes), 20)
        # The attack was real: the server cut the surplus over its free
        # slots, then each again at its deadline.
        self.assertGreaterEqual(attack.cuts, CLIENTS)
        self.assertTrue(self.monitor.alive())

    def test_header_deadline_is_total(self):
        # One byte every 2 s: never idle for the 10 s timeout, yet cut at
        # the 10 s total deadline for its headers.
        s = socket.create_connection(("127.0.0.1", self.http_port))
        self.addCleanup(s.close)
        s.settimeout(2)
        t0 = time.monotonic()
        sent = 0
        while True:
            try:
                s.send((REQUEST + FILLER * 20)[sent:sent + 1])
                sent += 1
                if s.recv(100) == b"":
                    break
            except socket.timeout:
                pass
            except OSError:
                break
            self.assertLess(time.monotonic() - t0, 30 * zbtest.SLOW, "never cut")
        took = time.monotonic() - t0
        self.assertGreater(took, 9)
        self.assertLess(took, 14 * zbtest.SLOW)


if __name__ == "__main__":
    zbtest.main()
