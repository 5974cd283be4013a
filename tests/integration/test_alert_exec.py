"""Exec channels with real scripts: the alert as JSON on stdin and as ZBEAT_*
variables, exit status recorded and failures retried; a hook that hangs is
killed (with its children) at its timeout while detection goes on."""

import glob
import json
import os
import signal
import time

import zbtest
from monitor_helpers import AlertCase

RECORD = """#!/bin/sh
# Records one call: stdin and the ZBEAT_ variables; fails until %(ok)s exists.
d=$(mktemp -d %(dir)s/call.XXXXXX)
cat > "$d/stdin"
env | grep '^ZBEAT_' > "$d/env"
if [ ! -e %(ok)s ]; then echo "receiver not ready" >&2; exit 7; fi
"""

HANG = """#!/bin/sh
# Hangs, with a child: both must be killed at the timeout.
echo $$ > %(dir)s/hang.pid
sleep 60 &
echo $! > %(dir)s/child.pid
wait
"""


def read_pid(path):
    """The pid a hook wrote, or None while the file is missing or empty
    (the shell truncates it before it writes)."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited: its parent (the hook's shell, or us) only
    # has not reaped it yet.
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(")")[-1].split()[0] != "Z"


class AlertExecTest(AlertCase):

    def setUp(self):
        super().setUp()
        self.calls_dir = os.path.join(self.tmp, "calls")
        os.mkdir(self.calls_dir)
        self.addCleanup(self.kill_leftovers)

    def kill_leftovers(self):
        for name in ("hang.pid", "child.pid"):
            pid = read_pid(os.path.join(self.tmp, name))
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def calls(self):
        """[(stdin JSON, {var: value})], oldest first."""
        out = []
        for d in sorted(glob.glob(os.path.join(self.calls_dir, "call.*")), key=os.path.getmtime):
            try:
                with open(os.path.join(d, "stdin")) as f:
                    body = json.loads(f.read())
                with open(os.path.join(d, "env")) as f:
                    env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
            except (OSError, ValueError):
                continue  # still being written
            out.append((body, env))
        return out

    def test_hook_gets_json_and_environment_and_is_retried(self):
        ok = os.path.join(self.tmp, "ok")
        script = self.write("record.sh", RECORD % {"dir": self.calls_dir, "ok": ok})
        self.start_alerting([("oncall", {"exec": "sh %s" % script, "timeout": "5s",
                                         "backoff-max": "500ms", "services": "redis,db-*"})])
        agent = self.fake("web-1", interval_ms=60000)
        agent.set("redis", "up")
        agent.set("web", "up")
        agent.beat()
        self.wait_state("web-1", "web", "up", 10)
        agent.event("web", "down")  # filtered out: services = redis,db-*
        agent.event("redis", "down", reason="timeout", error="no reply in 500ms")
        zbtest.wait_for(lambda: len(self.calls()) >= 2, 10, "two failed calls")
        rows = zbtest.wait_for(lambda: [r for r in self.alerts() if r["deliveries"] and
                                        r["deliveries"][0]["attempts"] >= 2], 10, "recorded")
        d = rows[0]["deliveries"][0]
        self.assertEqual((d["status"], d["result"]), ("pending", 7))
        self.assertEqual(d["last_error"], "exit 7: receiver not ready")
        open(ok, "w").close()
        self.wait_delivered(2, 10, "delivered once the hook succeeds", channel="oncall")
        body, env = self.calls()[-1]
        outage = self.outages("--service", "redis")[0]
        self.assertEqual(body["id"], "web-1/redis/%d/down" % outage["id"])
        self.assertEqual((body["trigger"], body["error"]), ("down", "no reply in 500ms"))
        self.assertEqual(env["ZBEAT_ALERT_ID"], body["id"])
        self.assertEqual(env["ZBEAT_TRIGGER"], "down")
        self.assertEqual(env["ZBEAT_HOST"], "web-1")
        self.assertEqual(env["ZBEAT_SERVICE"], "redis")
        self.assertEqual(env["ZBEAT_STATE"], "down")
        self.assertEqual(env["ZBEAT_REASON"], "timeout")
        self.assertEqual(env["ZBEAT_ERROR"], "no reply in 500ms")
        self.assertEqual(env["ZBEAT_OUTAGE_ID"], str(outage["id"]))
        self.assertEqual(env["ZBEAT_STARTED_AT"], outage["started_at"])
        self.assertEqual(env["ZBEAT_CHANNEL"], "oncall")
        self.assertGreaterEqual(int(env["ZBEAT_ATTEMPT"]), 3)
        self.assertEqual(env["ZBEAT_ENDED_AT"], "")
        # Only the redis alert went to this channel; web's has no delivery.
        by_service = {r["service"]: r for r in self.alerts()}
        self.assertEqual(by_service["web"]["deliveries"], [])
        self.assertEqual(by_service["redis"]["deliveries"][0]["status"], "sent")
        self.assertEqual(by_service["redis"]["deliveries"][0]["result"], 0)
        self.assertTrue(all(b["service"] == "redis" for b, _ in self.calls()))
        self.stop_monitor()

    def test_hanging_hook_is_killed_at_timeout_and_detection_goes_on(self):
        hang = self.write("hang.sh", HANG % {"dir": self.tmp})
        ok = os.path.join(self.tmp, "ok")
        open(ok, "w").close()
        record = self.write("record.sh", RECORD % {"dir": self.calls_dir, "ok": ok})
        self.start_alerting([("slow", {"exec": "sh %s" % hang, "timeout": "3s",
                                       "backoff-max": "1m"}),
                             ("fast", {"exec": "sh %s" % record})])
        agent = self.fake("web-1", interval_ms=60000)
        agent.set("a", "up")
        agent.set("b", "up")
        agent.beat()
        self.wait_state("web-1", "b", "up", 10)
        agent.event("a", "down")
        pid_file = os.path.join(self.tmp, "child.pid")
        hang_file = os.path.join(self.tmp, "hang.pid")
        child_pid = zbtest.wait_for(lambda: read_pid(pid_file), 10, "the hook running")
        # When the hook started, by its own pid file (wall clock): this
        # thread may notice the file late.
        t_hook = os.stat(hang_file).st_mtime
        hook_pid = read_pid(hang_file)

        # While it hangs, another outage is recorded as fast as ever.
        t0 = time.monotonic()
        agent.event("b", "down")
        self.wait_outages(lambda r: any(o["service"] == "b" for o in r), 10, "b's outage")
        took = time.monotonic() - t0
        # The hook still hanging proves the outage did not wait for its
        # 3 s timeout; the bound (CLI polls included) catches a stall of
        # seconds on a fast machine.
        self.assertTrue(alive(hook_pid), "the hook still hangs meanwhile")
        self.assertLess(took, 2.0 * zbtest.SLOW)
        # And the other channel delivers both alerts, unhindered.
        zbtest.wait_for(lambda: len(self.calls()) >= 2, 5, "the fast channel's two calls")
        self.assertTrue(alive(hook_pid))

        # At its timeout the hook and its child are killed.
        zbtest.wait_for(lambda: not alive(hook_pid) and not alive(child_pid), 10,
                        "the hook killed")
        killed = time.time() - t_hook
        # Not well before the timeout (the hook wrote its pid a moment after
        # the monitor started the timer), and not long after it.
        self.assertGreater(killed, 2.5)
        self.assertLess(killed, 3.0 + 2.0 * zbtest.SLOW)
        rows = zbtest.wait_for(
            lambda: [d for r in self.alerts() for d in r["deliveries"]
                     if d["channel"] == "slow" and d["attempts"] >= 1], 5, "recorded")
        self.assertEqual(rows[0]["status"], "pending")
        self.assertTrue(rows[0]["last_error"].startswith("killed at the timeout (3.0s)"),
                        rows[0]["last_error"])
        fast = [d for r in self.alerts() for d in r["deliveries"] if d["channel"] == "fast"]
        self.assertEqual([d["status"] for d in fast], ["sent", "sent"])
        # A stopping monitor kills a hook in progress too, and exits 0.
        def retried():
            pid = read_pid(hang_file)
            return pid if pid != hook_pid else None
        retry_pid = zbtest.wait_for(retried, 10, "the retry running")
        self.stop_monitor()
        zbtest.wait_for(lambda: not alive(retry_pid), 5, "the retry killed at stop")


if __name__ == "__main__":
    zbtest.main()
