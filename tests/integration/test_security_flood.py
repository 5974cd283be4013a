"""A plaintext flood (issue 18, point 5): a peer sending frames just under the
frame limit as fast as the monitor takes them, either JSON the decoder reads
to the end or malformed JSON it reads almost to the end. Meanwhile a real
agent's real TCP service is killed again and again.

Measured: the monitor's RSS (VmRSS, sampled every 20 ms) and, per outage,
the delay from the agent's event (its at_ms, the moment it saw the service
refuse) to the moment the test receives the committed state change on the
monitor's alert stream (state.web-1.svc, published only after the commit
that records the outage). Both go to the test's output."""

import json
import os
import statistics
import threading
import time

import zmq

import zbtest
from monitor_helpers import MonitorCase, StreamSub

RSS_MAX_MB = 256
#   The goal is 100 ms, for the median and the worst (docs/security.md has
#   the figures): ZB_FLOOD_STRICT=1 holds both to it, on a quiet machine.
#   Otherwise the bounds only catch what a fault looks like (good messages
#   queued behind the flood: seconds, growing with it), not what CPU load
#   costs: on a loaded 2-core machine (load average 15) the median was 265
#   ms, the monitor's decoding sharing two cores with the flooder and more.
STRICT = os.environ.get("ZB_FLOOD_STRICT") == "1"
DELAY_MEDIAN_MS = 100 if STRICT else 1000
DELAY_WORST_MS = 100 if STRICT else 2500
OUTAGES = 5
FLOOD_S = 5                      # the flood lasts at least this long
FRAME = 4 * 1024 * 1024 - 1024   # just under the default frame limit (4 MiB)


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class TimedSub(StreamSub):
    def _record(self, frames, t):
        return (frames[0].decode(), json.loads(frames[1]), time.time())


class Flood:
    """A PUB peer that sends one payload over and over, blocking while the
    monitor's queue for it is full (so it floods exactly as fast as the
    monitor takes its frames, never dropping)."""

    def __init__(self, endpoint, payload):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.SNDHWM, 2)
        self.sock.setsockopt(zmq.XPUB_NODROP, 1)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDTIMEO, 200)
        self.sock.connect(endpoint)
        self.payload = payload
        self.sent = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        deadline = time.monotonic() + 10 * zbtest.SLOW
        while time.monotonic() < deadline:
            if poller.poll(50) and self.sock.recv() == b"\x01":
                break
        else:
            raise AssertionError("the monitor never subscribed the flood")
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            try:
                self.sock.send_multipart([b"beat.flood", self.payload], copy=False)
                self.sent += 1
            except zmq.Again:
                pass

    def stop(self):
        self.done.set()
        self.thread.join(10)
        self.sock.close(linger=0)


class FloodTest(MonitorCase):

    def setUp(self):
        super().setUp()
        # Under AddressSanitizer (CI's second pass) freed memory waits in a
        # quarantine of 256 MB by default, which RSS would count against the
        # bound: a small one keeps the bound about the monitor's own memory.
        asan = os.environ.get("ASAN_OPTIONS")
        if asan is not None:
            os.environ["ASAN_OPTIONS"] = asan + ":quarantine_size_mb=8"
            self.addCleanup(os.environ.__setitem__, "ASAN_OPTIONS", asan)
        self.stream_port = zbtest.free_port()
        cfg = self.write("monitor.cfg", "monitor\n    publish = tcp://127.0.0.1:%d\n" %
                         self.stream_port)
        self.start_monitor(["-c", cfg])
        self.stream = TimedSub(self, "tcp://127.0.0.1:%d" % self.stream_port)
        self.server = zbtest.TcpServer(self)
        agent_cfg = self.write("agent.cfg", "\n".join([
            "agent", "    name = web-1", "    monitor = %s" % self.endpoint, "    beat = 200ms",
            "service", "    svc", "        probe = 127.0.0.1:%d" % self.server.port,
            "        interval = 50ms", "        fails = 1"]) + "\n")
        self.start([zbtest.bin("zbeat-agent"), "-c", agent_cfg], "agent")
        self.wait_state("web-1", "svc", "up", 20)
        # The stream is subscribed once a state change comes through.
        self.server.set_mode("refuse")
        start, _, _ = self.wait_change("down")
        self.server.set_mode("answer")
        self.wait_change("up", start)
        self.rss_max = rss_mb(self.monitor.pid)
        self.flood = None
        self.sampling = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        self.addCleanup(self.sampling.set)

    def _sample(self):
        while not self.sampling.wait(0.02):
            try:
                self.rss_max = max(self.rss_max, rss_mb(self.monitor.pid))
            except OSError:
                return
            # Far over the bound: the test has failed; spare the machine.
            if self.rss_max > 4 * RSS_MAX_MB and self.flood:
                self.flood.done.set()

    def wait_change(self, to, start=0):
        def find():
            for i, (topic, msg, t) in enumerate(self.stream.messages()[start:]):
                if topic == "state.web-1.svc" and msg["to"] == to:
                    return start + i + 1, msg, t
            return None
        return zbtest.wait_for(find, 10, "svc %s on the alert stream" % to)

    def outage_delays(self, count, for_s=0):
        """Kills the service count times, and more until for_s seconds
        passed (then brings it back each time); the delay of each outage
        from the agent's event to the committed state change."""
        delays = []
        start = len(self.stream.messages())
        until = time.monotonic() + for_s
        while len(delays) < count or time.monotonic() < until:
            self.server.set_mode("refuse")
            start, msg, t = self.wait_change("down", start)
            delays.append(t * 1000.0 - msg["at_ms"])
            self.server.set_mode("answer")
            start, _, _ = self.wait_change("up", start)
        return delays

    def flooded(self, what, payload):
        base = self.outage_delays(3)
        rss_base = rss_mb(self.monitor.pid)
        flood = self.flood = Flood(self.endpoint, payload)
        flood.start()
        self.addCleanup(flood.stop)
        zbtest.wait_for(lambda: flood.sent > 20, 20, "the flood flowing")
        t0 = time.monotonic()
        delays = self.outage_delays(OUTAGES, FLOOD_S)
        took = time.monotonic() - t0
        sent = flood.sent
        flood.stop()
        print("%s flood: %d frames of %.1f MiB in %.1f s; monitor RSS %.0f MB before, at most "
              "%.0f MB; outage delay without flood median %.0f ms, under flood median %.0f ms, "
              "worst %.0f ms (%s)" % (what, sent, len(payload) / 1048576.0, took, rss_base,
                                      self.rss_max,
                        statistics.median(base), statistics.median(delays), max(delays),
                        ", ".join("%.0f" % d for d in delays)))
        self.assertLessEqual(self.rss_max, RSS_MAX_MB)
        self.assertLessEqual(statistics.median(delays), DELAY_MEDIAN_MS * zbtest.SLOW)
        self.assertLessEqual(max(delays), DELAY_WORST_MS * zbtest.SLOW)
        self.assertGreater(sent, 20)
        self.assertTrue(self.monitor.alive())

    def test_flood_of_large_frames(self):
        # Valid JSON to the last byte: the decoder reads all of it, then
        # refuses a beat that is nothing but padding.
        pad = FRAME - 100
        payload = b'{"v":1,"type":"beat","host":"flood","pad":"' + b"x" * pad + b'"}'
        self.flooded("large-frame", payload)
        rc = self.stop_monitor()
        self.assertGreater(rc["decode_errors"], 20)

    def test_flood_of_malformed_json(self):
        # Malformed only at its very end.
        payload = b"[" + b"1," * ((FRAME - 2) // 2)
        self.flooded("malformed-JSON", payload)
        rc = self.stop_monitor()
        self.assertGreater(rc["decode_errors"], 20)

    def test_frame_over_the_limit_disconnects(self):
        # max-services sizes the frame limit: 100 services, about 114 KB.
        # A larger frame makes ZeroMQ drop the sender without reading on.
        self.stop_monitor()
        cfg = self.write("small.cfg", "monitor\n    max-services = 100\n")
        self.start_monitor(["-c", cfg, "-v"], "small")
        self.assertIn("frames up to 116736 bytes", self.monitor.output())
        fake = self.fake("web-2")
        fake.send_raw([b"beat.web-2", b"{" + b" " * 200000 + b"}"])
        fake.set("a", "up")
        fake.beat()
        # The connection was dropped: the beat after the big frame is lost
        # until ZeroMQ reconnects; a later one gets through.
        zbtest.wait_for(lambda: fake.beat() and self.status().get(("web-2", "a")), 20,
                        "web-2 heard after a reconnect")
        self.assertEqual(self.stop_monitor()["decode_errors"], 0)


if __name__ == "__main__":
    zbtest.main()
