"""zbeat-monitor against fake agents speaking protocol v1 exactly: outages
from events and from beats, sequence gaps, stale messages, agent restarts,
host silence and planned stops, a monitor crash, malformed input."""

import copy
import json
import re
import secrets
import signal
import socket
import sqlite3
import time
import urllib.error
import urllib.request

import zmq

import zbtest
from monitor_helpers import MonitorCase, host_outages, log_times, now_ms, parse_rfc3339_ms, \
    service_outages


#  The interval a fake agent announces when its host's silence is not what a
#  test checks: the monitor flags a host silent after liveness x interval
#  without a message, and a loaded machine can take 5 s (5 x the default 1 s)
#  between two of a test's messages; a surprise host outage, silent alert or
#  "unknown" service would then fail it.
LONG = 3600000


class MonitorFakeAgentTest(MonitorCase):

    def test_outage_from_events(self):
        self.start_monitor()
        agent = self.fake("web-1", interval_ms=LONG)
        agent.set("redis", "up")
        agent.set("ssh", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        t_down = now_ms() - 5000  # the agent's own timestamps are what count
        agent.event("redis", "down", at_ms=t_down, reason="refused",
                    error="connect: Connection refused")
        rows = self.wait_outages(lambda r: service_outages(r), 10, "redis outage")
        self.assertEqual(len(rows), 1)
        o = rows[0]
        self.assertEqual((o["host"], o["service"], o["kind"]), ("web-1", "redis", "service"))
        self.assertEqual(parse_rfc3339_ms(o["started_at"]), t_down)
        self.assertIsNone(o["ended_at"])
        self.assertEqual(o["reason"], "refused")
        self.assertEqual(o["error"], "connect: Connection refused")
        self.assertGreaterEqual(o["duration_s"], 5.0)  # up to now while open
        self.assertEqual(self.status()[("web-1", "redis")]["state"], "down")

        # Beats repeating the down state record nothing new.
        for _ in range(3):
            agent.beat()
        t_up = t_down + 4321
        agent.event("redis", "up", at_ms=t_up)
        rows = self.wait_outages(lambda r: r and r[0]["ended_at"], 10, "outage closed")
        self.assertEqual(len(rows), 1)
        self.assertEqual(parse_rfc3339_ms(rows[0]["ended_at"]), t_up)
        self.assertEqual(rows[0]["duration_s"], 4.321)
        self.assertEqual(rows[0]["end_reason"], "up")
        self.assertEqual(self.status()[("web-1", "redis")]["state"], "up")
        stats = self.stop_monitor()
        self.assertEqual(stats["decode_errors"], 0)
        self.assertEqual(stats["seq_gaps"], 0)

    def test_beats_repair_lost_events(self):
        self.start_monitor()
        agent = self.fake("web-1", interval_ms=LONG)
        agent.set("redis", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        # The down event is lost: the next beat carries it, with its since.
        since = now_ms() - 2500
        agent.set("redis", "down", since_ms=since, reason="timeout")
        agent.seq += 1  # the lost event's sequence number
        agent.beat()
        rows = self.wait_outages(lambda r: r, 10, "outage from a beat")
        self.assertEqual(parse_rfc3339_ms(rows[0]["started_at"]), since)
        self.assertEqual(rows[0]["reason"], "timeout")
        # The up event is lost too: the beat closes the outage at its since.
        back = since + 2000
        agent.set("redis", "up", since_ms=back)
        agent.seq += 1
        agent.beat()
        rows = self.wait_outages(lambda r: r[0]["ended_at"], 10, "closed by a beat")
        self.assertEqual(len(rows), 1)
        self.assertEqual(parse_rfc3339_ms(rows[0]["ended_at"]), back)
        stats = self.stop_monitor()
        self.assertEqual(stats["seq_gaps"], 2)

    def test_sequence_gaps_and_stale_messages(self):
        self.start_monitor()
        agent = self.fake("web-1", interval_ms=LONG)
        agent.set("redis", "up")
        for _ in range(3):
            agent.beat()  # seq 1..3
        agent.seq = 6
        agent.beat()  # seq 7: 4, 5, 6 missed
        # Replayed or duplicated old messages must not change anything.
        agent.set("redis", "down")
        agent.beat(seq=7)
        agent.beat(seq=2)
        agent.set("redis", "up")
        agent.beat()  # seq 8
        agent.event("ssh", "up")  # seq 9: a marker that all before it was handled
        self.wait_state("web-1", "ssh", "up", 10)
        self.assertEqual(self.outages(), [])
        stats = self.stop_monitor()
        self.assertEqual(stats["seq_gaps"], 3)
        self.assertEqual(stats["stale"], 2)
        self.assertEqual(stats["messages"], 6)

    def test_agent_restart_keeps_outages_and_creates_none(self):
        self.start_monitor()
        agent = self.fake("web-1", interval_ms=LONG)
        agent.set("redis", "up")
        agent.set("ssh", "up")
        agent.set("old", "up")
        agent.beat()
        t_down = now_ms()
        agent.event("redis", "down", at_ms=t_down)
        self.wait_outages(lambda r: r, 10, "redis outage")

        # A new run of the agent: everything unknown at first, "old" gone
        # from its configuration. Sequence numbers start again at 1.
        agent.restart()
        agent.services = {}
        agent.set("redis", "unknown")
        agent.set("ssh", "unknown")
        agent.beat()
        self.wait_state("web-1", "ssh", "unknown", 10)
        self.assertNotIn(("web-1", "old"), self.status())
        # redis still down for the new run: the same outage continues.
        agent.event("redis", "down")
        agent.event("ssh", "up")
        self.wait_state("web-1", "ssh", "up", 10)
        rows = service_outages(self.outages(), service="redis")
        self.assertEqual(len(rows), 1)
        self.assertEqual(parse_rfc3339_ms(rows[0]["started_at"]), t_down)
        self.assertIsNone(rows[0]["ended_at"])
        agent.event("redis", "up")
        rows = self.wait_outages(lambda r: r[0]["ended_at"], 10, "redis outage closed")
        self.assertEqual(len(rows), 1, "no phantom outages: %s" % rows)
        stats = self.stop_monitor()
        self.assertEqual(stats["seq_gaps"], 0)

    def test_removed_and_stopped_services_close_outages(self):
        self.start_monitor()
        agent = self.fake("web-1", interval_ms=LONG)
        for name in ("a", "b", "c"):
            agent.set(name, "up")
        agent.beat()
        for name in ("a", "b", "c"):
            agent.event(name, "down")
        self.wait_outages(lambda r: len(r) == 3, 10, "three outages")
        agent.event("a", "removed")
        agent.event("b", "stopped", reason="bye")
        agent.drop("c")  # a beat no longer listing it
        agent.beat()
        rows = self.wait_outages(lambda r: all(o["ended_at"] for o in r), 10, "all closed")
        ends = {o["service"]: o["end_reason"] for o in rows}
        self.assertEqual(ends, {"a": "removed", "b": "stopped", "c": "removed"})
        status = self.status()
        self.assertNotIn(("web-1", "a"), status)
        self.assertNotIn(("web-1", "c"), status)
        self.assertEqual(status[("web-1", "b")]["state"], "stopped")

    def test_silent_host_and_return(self):
        self.start_monitor()
        beat_s = 0.2
        agent = self.fake("quiet-1", interval_ms=int(beat_s * 1000))
        agent.set("redis", "up")
        agent.set("ssh", "down")
        for _ in range(5):  # the agent's own pacing
            t_sent = time.time()  # before the monitor can have this beat
            agent.beat()
            time.sleep(beat_s)

        # The silence after the last beat. (Were this process held up for
        # a whole liveness between two beats, the monitor would rightly
        # have flagged an earlier one, over since: not the one judged here.)
        def last_silence(rows):
            return [o for o in host_outages(rows, "quiet-1")
                    if parse_rfc3339_ms(o["started_at"]) >= t_sent * 1000 - 1]
        rows = self.wait_outages(last_silence, 10, "quiet-1 silent after its last beat")
        self.wait_state("quiet-1", None, "silent", 10)
        detected = log_times(self.monitor, r"host silent: quiet-1")[-1]
        self.assertEqual(len(last_silence(rows)), 1, rows)
        host = last_silence(rows)[0]
        self.assertIsNone(host["service"])
        self.assertEqual(host["reason"], "silent")
        self.assertIsNone(host["ended_at"])
        # One outage per silence flagged, no more.
        self.assertEqual(len(host_outages(rows, "quiet-1")),
                         len(log_times(self.monitor, r"host silent: quiet-1")))
        # It starts when the host was last heard: the monitor's receipt of
        # the last beat (not before it was sent; not when noticed, which is
        # a whole liveness later, as checked next).
        started = parse_rfc3339_ms(host["started_at"]) / 1000
        self.assertGreaterEqual(started, t_sent - 0.001)
        # Silent after liveness (5, the default) x the announced interval
        # from that receipt, never before: by the monitor's own clock
        # (whole ms), so this process's scheduling is not in it. After it
        # by the monitor's wake-up at that deadline; silence found only
        # seconds later (by some other pass, or counted in the default
        # 1 s interval: 5 s), or never, goes past it.
        self.assertGreaterEqual(detected - started, 5 * beat_s - 0.002)
        self.assertGreaterEqual(detected - t_sent, 5 * beat_s - 0.002)
        self.assertLess(detected - started, 5 * beat_s + 1.0 * zbtest.SLOW)
        status = self.status()
        self.assertEqual(status[("quiet-1", "redis")]["state"], "unknown")
        self.assertEqual(status[("quiet-1", "ssh")]["state"], "unknown")
        # ssh's outage stays open; no outage for redis (unknown is not down).
        self.assertEqual(len(service_outages(rows, service="ssh")), 1)
        self.assertEqual(service_outages(rows, service="redis"), [])

        # Back with a longer interval announced, so the host stays alive
        # through the checks below without another beat (one would move
        # last_seen); at 200 ms it would be silent again after 1 s, less
        # than these CLI calls can take on a loaded machine or under ASan.
        agent.interval_ms = 30000
        t_back = time.time()
        agent.beat()
        self.wait_state("quiet-1", None, "alive", 10)
        rows = self.wait_outages(lambda r: last_silence(r)[0]["ended_at"], 10, "host back")
        t_seen = time.time()
        host = last_silence(rows)[0]
        # At the beat's receipt, not at some later sweep or beat: after it
        # was sent, before it was seen, and the very time the host was last
        # heard (no message came after it).
        ended = parse_rfc3339_ms(host["ended_at"])
        self.assertGreaterEqual(ended / 1000, t_back - 0.001)
        self.assertLessEqual(ended / 1000, t_seen)
        heard = [h for h in self.cli_json("hosts") if h["host"] == "quiet-1"][0]
        self.assertEqual(parse_rfc3339_ms(heard["last_seen"]), ended)
        self.assertEqual(host["end_reason"], "back")
        status = self.status()
        self.assertEqual(status[("quiet-1", "redis")]["state"], "up")
        self.assertEqual(status[("quiet-1", "ssh")]["state"], "down")
        self.assertIsNone(service_outages(rows, service="ssh")[0]["ended_at"])

    def test_planned_stop_is_not_an_outage(self):
        self.start_monitor()
        stopping = self.fake("stop-1", interval_ms=200)
        witness = self.fake("witness-1", interval_ms=200)
        stopping.set("redis", "up")
        stopping.beat()
        stopping.stop()
        self.wait_state("stop-1", None, "stopped", 10)
        self.assertEqual(self.status()[("stop-1", "redis")]["state"], "unknown")
        # The witness beats once after the stop was recorded, and no more:
        # once it is flagged silent, a deadline counted from stop-1's last
        # message has passed too.
        witness.beat()
        self.wait_state("witness-1", None, "silent", 10)
        self.assertEqual(self.status()[("stop-1", None)]["state"], "stopped")
        self.assertEqual(host_outages(self.outages(), "stop-1"), [])
        # Beats resume (a new run): alive again, still no outage. The new
        # run announces a long interval: at 200 ms the host would be silent
        # (a host outage) 1 s on, less than the two CLI calls below can take.
        stopping.restart()
        stopping.interval_ms = LONG
        stopping.beat()
        self.wait_state("stop-1", None, "alive", 10)
        self.assertEqual(host_outages(self.outages(), "stop-1"), [])

    def test_monitor_crash_keeps_one_outage(self):
        self.start_monitor()
        agent = self.fake("web-1", interval_ms=LONG)
        agent.set("redis", "up")
        agent.beat()
        t_down = now_ms()
        # The event carries t_down itself: a default at_ms would be a
        # second now, a millisecond later at times.
        agent.event("redis", "down", at_ms=t_down)
        self.wait_outages(lambda r: r, 10, "outage open")
        self.monitor.stop(signal.SIGKILL)  # committed is committed

        self.start_monitor(name="monitor2")
        self.resync(agent)  # beats say still down: nothing new
        agent.event("redis", "up")
        rows = self.wait_outages(lambda r: r and r[0]["ended_at"], 10, "outage closed")
        self.assertEqual(len(rows), 1)
        self.assertEqual(parse_rfc3339_ms(rows[0]["started_at"]), t_down)
        self.stop_monitor()

    def test_malformed_input_is_counted_and_survived(self):
        self.start_monitor(["-v"])
        agent = self.fake("web-1", interval_ms=LONG)
        agent.set("redis", "up")
        agent.beat()
        self.wait_state("web-1", "redis", "up", 10)
        good = {"v": 1, "type": "beat", "host": "web-1", "instance": agent.instance,
                "seq": 99, "time_ms": now_ms(), "interval_ms": 1000, "services": []}

        def variant(**changes):
            msg = dict(good)
            msg.update(changes)
            return [b"beat.web-1", json.dumps(msg).encode()]

        bad = [
            [b"only one frame"],
            [b"beat.web-1", b"{}", b"three frames"],
            [b"beat.web-1", b"{not json"],
            [b"beat.web-1", b"[1, 2, 3]"],
            [b"beat.web-1", b"\xff\xfe\x00garbage"],
            variant(v=99),  # no such protocol version (2 is thin beats)
            variant(host="x" * 10000),
            variant(host="bad host"),
            variant(instance="nothex"),
            variant(seq=-1),
            variant(services=[{"name": "\x1b[31mred", "state": "up", "since_ms": 1}]),
            variant(services="many"),
            [b"beat.other", json.dumps(good).encode()],  # topic does not match
            [b"event.web-1", json.dumps(dict(good, type="event")).encode()],
        ]
        for frames in bad:
            agent.send_raw(frames)
        agent.event("marker", "up")  # all of the above handled once it shows
        self.wait_state("web-1", "marker", "up", 10)

        # An oversize frame: ZeroMQ drops that sender's connection (its own
        # socket, so the fake agent stays connected).
        ctx = zmq.Context.instance()
        big = ctx.socket(zmq.XPUB)
        big.setsockopt(zmq.LINGER, 0)
        big.connect(self.endpoint)
        zbtest.wait_for(lambda: big.poll(10), 10, "subscription on the big socket")
        big.recv()
        big.send_multipart([b"beat.web-1", b"x" * (5 * 1024 * 1024)])
        # Raw bytes that are not ZMTP at all.
        with socket.create_connection(("127.0.0.1", self.port)) as raw:
            raw.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 16)

        # Still recording; an agent's free text cannot drive a terminal.
        agent.event("redis", "down", error="\x1b]0;pwned\x07 \x1b[2J")
        self.wait_outages(lambda r: r, 10, "an outage after the junk")
        self.assertTrue(self.monitor.alive())
        big.close()
        stats = self.stop_monitor()
        # Every one of ours was refused, for its own reason, in order. The
        # raw bytes count too: libzmq takes a peer without a ZMTP 3 greeting
        # for ZMTP 1.0 and frames its bytes as messages, malformed ones.
        reasons = re.findall(r"D: malformed message: (.*)", self.monitor.output())
        self.assertEqual(len(reasons), stats["decode_errors"])
        expected = ["expected 2 frames, got 1", "expected 2 frames, got 3", "bad JSON",
                    "not a JSON object", "bad JSON", "unsupported protocol version",
                    "host: longer than", "host: invalid name", "instance:", "seq:",
                    "services[0].name: invalid name", "services:", "topic does not match",
                    "from: missing"]
        self.assertEqual(len(expected), len(bad))
        for reason, want in zip(reasons, expected):
            self.assertIn(want, reason)
        self.assertGreater(len(reasons), len(bad))  # the raw bytes
        self.assertIn("dropped malformed message", self.monitor.output())
        # Neither decoder messages nor agents' texts put control characters
        # into the log.
        self.assertNotIn("\x1b", self.monitor.output())


class LockedFleet:
    """2,500 fake hosts on one socket (web-0's: one fake agent per host),
    beating every 0.5 s against a 3 x 2 s threshold, and a monitor whose
    database another process can lock (its input then waits)."""

    def __init__(self, case, count=2500):
        self.case = case
        cfg = case.write("monitor.cfg", "monitor\n    liveness = 3\n    liveness-max = 6s\n")
        self.http = zbtest.free_port()
        case.start_monitor(["-c", cfg, "--http", "127.0.0.1:%d" % self.http])
        #  No send limit: a burst of every host's beat met the default 1,000
        #  while a loaded machine's monitor was slow to read, and the tail
        #  was dropped (a host never known).
        self.agent = case.fake("web-0", interval_ms=2000, sndhwm=0)
        self.agent.set("s", "up")
        self.hosts = [self.agent]
        for i in range(1, count):
            self.hosts.append(self.clone("web-%d" % i))
        self.sent = 0
        self.beat_all()
        zbtest.wait_for(lambda: len(case.cli_json("hosts")) == len(self.hosts), 20,
                        "every host known")
        self.con = sqlite3.connect(case.db, isolation_level=None, timeout=10)
        case.addCleanup(self.con.close)

    def clone(self, host):
        h = copy.copy(self.agent)
        h.host, h.instance, h.seq = host, secrets.token_hex(8), 0
        h.services = dict(self.agent.services)
        return h

    def beat_all(self, hosts=None):
        for h in hosts or self.hosts:
            h.beat()
        self.sent += len(hosts or self.hosts)

    def metric(self, name):
        url = "http://127.0.0.1:%d/metrics?detail=none" % self.http
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(re.search(rb"^%s (\d+)" % name.encode(), r.read(), re.M)[1])

    def lock(self):
        """Locks the database, then sends a change the monitor must write:
        from there on its input waits."""
        self.con.execute("BEGIN IMMEDIATE")
        self.agent.event("s", "down")
        self.sent += 1
        zbtest.wait_for(lambda: "input waits" in self.case.monitor.output(), 20,
                        "the monitor says it waits for the database")

    def unlock_and_catch_up(self):
        """Frees the database; beats go on until the monitor has read or
        dropped every message sent before."""
        waited = self.sent
        self.con.execute("ROLLBACK")

        def caught_up():
            self.beat_all()
            return (self.metric("zbeat_messages_total") +
                    self.metric("zbeat_input_dropped_messages_total") >= waited)
        zbtest.wait_for(caught_up, 60, "the backlog read")
        self.case.assertIn("database writable again", self.case.monitor.output())

    def assert_none_silent(self, events=1):
        """No host flagged silent, and events outages of web-0's s (lock()
        makes one)."""
        silent = re.findall(r"host silent: \S+", self.case.monitor.output())
        self.case.assertEqual(len(silent), 0, silent[:5])
        outages = self.case.outages()
        self.case.assertEqual(host_outages(outages), [])
        self.case.assertEqual(len(service_outages(outages, "web-0", "s")), events)


class BacklogTest(MonitorCase):
    def test_hosts_in_a_backlog_are_not_called_silent(self):
        """A host is judged silent as of the oldest message the monitor has
        not read yet, not as of now: while another process holds the
        database, input waits (thousands of hosts' beats); once it is free,
        a pass reads 2,000 messages and then sweeps. Judged as of now, the
        hosts whose beats still waited were flagged silent (and came back a
        moment later)."""
        fleet = LockedFleet(self)
        fleet.lock()
        # Beats keep coming for longer than a host's threshold.
        until = time.monotonic() + 9
        while time.monotonic() < until:
            fleet.beat_all()
            time.sleep(0.5)  # the agents' pacing (every host well within its 2 s)
        fleet.unlock_and_catch_up()
        self.assertEqual(fleet.metric("zbeat_input_dropped_messages_total"), 0)
        fleet.assert_none_silent()

    def test_hosts_whose_beats_were_dropped_are_not_called_silent(self):
        """Input the monitor dropped (its held bytes full) may have been any
        host's beat, so no host is silent within its threshold of the last
        drop. z-1 beats throughout, but every one of its beats comes after
        the input is full and is dropped: judged on what was read, it was
        flagged silent once the backlog was."""
        fleet = LockedFleet(self)
        z = fleet.clone("z-1")
        fleet.beat_all([z])
        zbtest.wait_for(lambda: [h for h in self.cli_json("hosts") if h["host"] == "z-1"], 20,
                        "z-1 known")
        fleet.lock()
        deadline = time.monotonic() + 60 * zbtest.SLOW
        while fleet.metric("zbeat_input_dropped_messages_total") == 0:
            self.assertLess(time.monotonic(), deadline, "the input never filled")
            fleet.beat_all()
        # Longer than z-1's threshold, every beat of it dropped.
        until = time.monotonic() + 8
        while time.monotonic() < until:
            fleet.beat_all()
            fleet.beat_all([z])
            time.sleep(0.5)  # the agents' pacing
        fleet.hosts.append(z)
        fleet.unlock_and_catch_up()
        self.assertGreater(fleet.metric("zbeat_input_dropped_messages_total"), 0)
        fleet.assert_none_silent()
        stats = self.stop_monitor()
        self.assertGreater(stats["input_dropped"], 0)

    def test_hosts_are_not_called_silent_after_the_monitor_stood_still(self):
        """A monitor stopped (SIGSTOP, a paused VM, a swap storm) for longer
        than a threshold has not read what hosts sent meanwhile: it waits in
        the kernel and ZeroMQ, where the backlog rule cannot see it. On
        waking, a pass ran before the input was read and flagged every host
        silent. Now what came in while it stood still counts as lost input,
        as drops do: no host is silent within its threshold of the wake."""
        fleet = LockedFleet(self)
        self.monitor.send_signal(signal.SIGSTOP)
        self.addCleanup(self.monitor.send_signal, signal.SIGCONT)
        until = time.monotonic() + 9  # longer than a host's 6 s threshold
        while time.monotonic() < until:
            fleet.beat_all()
            time.sleep(0.5)  # the agents' pacing
        self.monitor.send_signal(signal.SIGCONT)
        # One socket carries every host, in order: once a marker sent after
        # the wake is recorded, all sent before it was read or dropped.
        fleet.agent.set("zz-marker", "up")

        def marked():
            fleet.beat_all()
            return self.status().get(("web-0", "zz-marker"))
        zbtest.wait_for(marked, 60, "the monitor reads past its wake")
        fleet.assert_none_silent(events=0)
        self.assertGreaterEqual(fleet.metric("zbeat_input_stalls_total"), 1)
        self.assertRegex(self.monitor.output(), r"input: not read for \d+ ms")

    def test_a_stuck_input_thread_is_reported_and_hosts_go_silent(self):
        """The input thread stuck while the rest of the monitor runs (held
        by ptrace here): nothing is read, so no host is heard. The
        stood-still rule above held every silence back for as long as the
        thread did not wake, and /healthz said ok: a host that died was
        never flagged. Now the loop judges silence without the thread once
        it has run 5 s since finding it late, and /healthz reports it."""
        cfg = self.write("monitor.cfg", "monitor\n    liveness = 3\n    liveness-max = 3s\n")
        http = zbtest.free_port()
        self.start_monitor(["-c", cfg, "--http", "127.0.0.1:%d" % http])
        agent = self.fake("web-0")
        agent.set("s", "up")
        self.resync(agent)

        def healthz():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % http, timeout=10) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()

        def beating(check):
            agent.beat()
            return check()
        self.assertEqual(healthz(), (200, "ok\n"))
        # Stopped in its poll: never while it holds the lock it shares with
        # the loop, which would stop the loop too.
        with zbtest.FrozenThread(self.monitor.pid, "zbeat-input", zbtest.POLL_SYSCALLS):
            # The host beats on, unread.
            zbtest.wait_for(lambda: beating(lambda: "input thread stuck" in healthz()[1]), 30,
                            "/healthz: input thread stuck")
            self.assertEqual(healthz()[0], 503)
            zbtest.wait_for(lambda: beating(lambda: "host silent: web-0" in self.monitor.output()),
                            30, "web-0 flagged silent")
        zbtest.wait_for(lambda: beating(lambda: healthz() == (200, "ok\n")), 30,
                        "/healthz ok again")
        self.resync(agent)
        self.wait_state("web-0", "s", "up", 10)


if __name__ == "__main__":
    zbtest.main()
