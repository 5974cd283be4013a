"""Live reload of the monitor on SIGHUP (issue 10): a running monitor with a
fake agent; liveness changes take effect, alert channels come and go, a
broken or refused configuration leaves the old one in force, and SIGHUP
never kills the monitor (with or without -c)."""

import glob
import os
import re
import signal
import threading
import time

import urllib.error
import urllib.request

import zbtest
from monitor_helpers import AlertCase, StreamSub, host_outages, parse_rfc3339_ms

RECORD = """#!/bin/sh
# Records one call: the alert JSON on stdin, one file per call; then takes
# $1 seconds (an attempt in progress).
cat > "$(mktemp %(dir)s/call.XXXXXX)"
sleep "${1:-0}"
"""


class Beater:
    """Beats a fake agent every interval from its own thread until stopped;
    .last is the monotonic time of the last beat sent, .last_wall the wall
    time just before it was sent."""

    def __init__(self, agent):
        self.agent = agent
        self.last = None
        self.last_wall = None
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.halt.is_set():
            self.last_wall = time.time()
            self.agent.beat()
            self.last = time.monotonic()
            self.halt.wait(self.agent.interval_ms / 1000.0)

    def stop(self):
        self.halt.set()
        self.thread.join()
        return self.last


class MonitorReloadTest(AlertCase):

    def setUp(self):
        super().setUp()
        self.beaters = []

    def tearDown(self):
        for beater in self.beaters:
            beater.stop()
        super().tearDown()

    def beat(self, agent):
        beater = Beater(agent)
        self.beaters.append(beater)
        return beater

    def channel(self, name, sleep=0):
        d = os.path.join(self.tmp, "calls-" + name)
        os.makedirs(d, exist_ok=True)
        script = self.write("hook-%s.sh" % name, RECORD % {"dir": d})
        os.chmod(script, 0o755)
        return (name, {"exec": '"%s %s"' % (script, sleep), "timeout": "10s"})

    def calls(self, name):
        return sorted(glob.glob(os.path.join(self.tmp, "calls-" + name, "call.*")))

    def hup(self, done=r"reloaded |reload rejected|nothing changed"):
        """SIGHUP, then waits for the reload's outcome line (a new one)."""
        before = len(re.findall(done, self.monitor.output()))
        self.monitor.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: len(re.findall(done, self.monitor.output())) > before
                        or not self.monitor.alive(), 10, "the reload's outcome in the log")
        self.assertTrue(self.monitor.alive(), "monitor died on SIGHUP:\n" + self.monitor.output())

    def silence_after(self, host, beater, timeout):
        """Stops beating; seconds from the last beat until the host outage
        of the silence after it. (Had this process stalled for a whole
        liveness between two beats, the monitor would rightly have flagged
        an earlier silence, over since: not the one timed here.)"""
        last = beater.stop()
        sent_ms = beater.last_wall * 1000 - 1

        def after_last(rows):
            return [o for o in host_outages(rows, host)
                    if parse_rfc3339_ms(o["started_at"]) >= sent_ms]
        self.wait_outages(after_last, timeout, "%s silent" % host)
        return time.monotonic() - last

    def redis_up(self):
        """A fake agent, web-1, its redis seen up. A long beat interval: the
        tests using it count alerts and states exactly, and a host silent
        for want of a beat (a thread held up for liveness x 200 ms on a
        loaded machine) would add a silent alert or make redis unknown."""
        agent = self.fake("web-1", interval_ms=3600000)
        agent.set("redis", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        return agent

    def test_liveness_shortened(self):
        # 20 x 200 ms: silent after 4 s; reloaded to 2 x 200 ms.
        self.start_alerting(liveness=20)
        agent = self.fake("web-1", interval_ms=200)
        beater = self.beat(agent)
        self.wait_beating("web-1")
        self.monitor_config(liveness=2)
        self.hup()
        self.assertIn("reload: liveness 20 -> 2", self.monitor.output())
        took = self.silence_after("web-1", beater, 10)
        self.assertLess(took, 3.0, "silence detected under the new liveness (0.4 s)")

    def test_channel_added_and_removed(self):
        self.start_alerting([self.channel("a")], liveness=10)
        agent = self.redis_up()
        agent.event("redis", "down")
        zbtest.wait_for(lambda: len(self.calls("a")) == 1, 15, "channel a gets the down alert")

        self.monitor_config([self.channel("b")], liveness=10)
        self.hup()
        log = self.monitor.output()
        self.assertIn("alert channel a: stopping", log)
        self.assertIn("alert channel b started", log)

        agent.event("redis", "up")
        zbtest.wait_for(lambda: len(self.calls("b")) == 1, 15, "channel b gets the next alert")
        agent.event("redis", "down")
        zbtest.wait_for(lambda: len(self.calls("b")) == 2, 15, "channel b gets the one after")
        self.assertEqual(len(self.calls("a")), 1, "the removed channel got nothing more")
        # The database agrees: the alerts made after the reload went to b only.
        alerts = self.alerts()
        self.assertEqual(len(alerts), 3)
        self.assertEqual([d["channel"] for d in alerts[0]["deliveries"]], ["a"])
        for alert in alerts[1:]:
            self.assertEqual([d["channel"] for d in alert["deliveries"]], ["b"])

    def test_changed_channel_delivers_once(self):
        # The old thread is inside a slow attempt when the channel changes:
        # it finishes that one; its successor takes the rest, nothing twice.
        self.start_alerting([self.channel("a", sleep=2)], liveness=10)
        agent = self.redis_up()
        agent.event("redis", "down")
        zbtest.wait_for(lambda: len(self.calls("a")) == 1, 15, "the slow attempt started")
        agent.event("redis", "up")
        agent.event("redis", "down")
        self.wait_outages(lambda rows: len(rows) == 2, 10, "the second outage")
        self.monitor_config([self.channel("a", sleep=0)], liveness=10)
        self.hup()
        rows = self.wait_delivered(3, 30, "all three alerts delivered")
        self.assertEqual(len(self.calls("a")), 3, "each alert exactly once")
        self.assertEqual([d["attempts"] for r in rows for d in r["deliveries"]], [1, 1, 1])

    def test_broken_config_keeps_the_old_one(self):
        # Old: 20 x 200 ms = 4 s. The broken file also asks for liveness 1:
        # if any of it leaked in, silence would come after 0.2 s.
        self.start_alerting(liveness=20)
        agent = self.fake("web-1", interval_ms=200)
        beater = self.beat(agent)
        self.wait_beating("web-1")
        path = self.write("monitor.cfg", "monitor\n    liveness = 1\n    bogus = 3\n")
        rc, _, err = self.run_cmd([self.monitor_bin, "-c", path, "--check-config"])
        self.assertEqual(rc, 2)
        startup_error = err.strip().split(": ", 1)[1]  # without "zbeat-monitor: "
        self.hup()
        log = self.monitor.output()
        self.assertIn(startup_error, log, "the start-up error, logged on reload")
        self.assertIn("reload rejected: %s; carrying on with the previous configuration"
                      % startup_error, log)
        took = self.silence_after("web-1", beater, 15)
        self.assertGreater(took, 3.5, "the old liveness (4 s) still in force")
        self.assertTrue(self.monitor.alive())

    def test_db_change_refused(self):
        # No --db flag this time, so the file's db is what counts.
        other = os.path.join(self.tmp, "other.db")
        cfg = "monitor\n    db = \"%s\"\n    bind = \"%s\"\n    liveness = %d\n"
        path = self.write("monitor.cfg", cfg % (self.db, self.endpoint, 20))
        self.monitor = self.start([self.monitor_bin, "-c", path, "-v"], "monitor")
        zbtest.wait_for(lambda: "listening on" in self.monitor.output(), 10, "monitor listening")
        agent = self.fake("web-1", interval_ms=200)
        beater = self.beat(agent)
        self.wait_beating("web-1")
        self.write("monitor.cfg", cfg % (other, self.endpoint, 1))
        self.hup()
        self.assertIn("monitor/db: cannot change on reload; restart", self.monitor.output())
        self.assertFalse(os.path.exists(other))
        took = self.silence_after("web-1", beater, 15)
        self.assertGreater(took, 3.5, "the old liveness (4 s) still in force")

    def healthz(self, port):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
                return r.status
        except (urllib.error.URLError, ConnectionError):
            return None

    def test_publish_and_http_move(self):
        pub1, pub2, http1, http2 = (zbtest.free_port() for _ in range(4))
        self.start_alerting(publish='"tcp://127.0.0.1:%d"' % pub1, http="127.0.0.1:%d" % http1)
        agent = self.redis_up()
        zbtest.wait_for(lambda: self.healthz(http1) == 200, 10, "HTTP on the first port")

        self.monitor_config(publish='"tcp://127.0.0.1:%d"' % pub2, http="127.0.0.1:%d" % http2)
        self.hup()
        self.assertIn("reloaded ", self.monitor.output())
        self.assertEqual(self.healthz(http2), 200, "HTTP on the new port at once")
        self.assertIsNone(self.healthz(http1), "the old port closed")
        # The stream is on the new endpoint: services coming up until the
        # SUB sees one (a PUB drops what it sends before the subscription).
        sub = StreamSub(self, "tcp://127.0.0.1:%d" % pub2)
        n = 0

        def flowing():
            nonlocal n
            n += 1
            agent.event("probe-%d" % n, "up")
            return [m for m in sub.messages() if m[0].startswith("state.web-1.probe-")]
        zbtest.wait_for(flowing, 10, "the stream flowing on the new endpoint")
        agent.event("redis", "down")
        zbtest.wait_for(lambda: [m for m in sub.messages() if m[0] == "alert.web-1.redis"], 10,
                        "the next alert on the new endpoint")

    def test_sighup_without_config_file(self):
        self.start_monitor(["-v"])
        agent = self.redis_up()
        for _ in range(3):
            self.hup()
        self.assertIn("no configuration file (-c) to re-read", self.monitor.output())
        # Still ingesting.
        agent.event("redis", "down")
        self.wait_state("web-1", "redis", "down", 10)
        self.stop_monitor()


if __name__ == "__main__":
    import unittest
    unittest.main()
