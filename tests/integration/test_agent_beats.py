"""zbeat-agent's message stream: sequence numbers, beat cadence, snapshot
fields, the stop event, and a new instance id on restart."""

import re
import signal
import time

import zbtest
from agent_helpers import AgentCase

PING = {"send": '"PING\\r\\n"', "expect": '"+PONG"'}


class AgentBeatTest(AgentCase):

    def test_stream(self):
        server = zbtest.TcpServer(self)
        # The echo server is a thread of this process: a timeout far from
        # its round trip, so that this process's own scheduling under load
        # is no failed check (three in a row would be a flap).
        services = [("echo", dict(PING, probe="127.0.0.1:%d" % server.port, interval="200ms",
                                  timeout="150ms")),
                    ("gone", {"probe": "127.0.0.1:%d" % zbtest.free_port(), "interval": "1s"})]
        agent = self.start_agent(services, beat="200ms", host="beat-host")
        self.wait_subscribed()
        # Some events and beats, with a flap of echo in between, then a
        # stall of five beats (SIGSTOP) and seven beats after it.
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "echo") == "up", 5, "echo up")
        start = self.mark()
        server.set_mode("refuse")
        self.wait_event("echo", "down", 5, start=start)
        server.set_mode("answer")
        self.wait_event("echo", "up", 5, start=start)
        zbtest.wait_for(lambda: len(self.sub.beats()) >= 8, 10, "8 beats")
        agent.send_signal(signal.SIGSTOP)
        time.sleep(5 * 0.2)  # the stall itself, not a wait for anything
        agent.send_signal(signal.SIGCONT)
        resumed = len(self.sub.beats())
        zbtest.wait_for(lambda: len(self.sub.beats()) >= resumed + 7, 10, "7 beats after")
        self.stop_agent(agent)
        stop = self.sub.wait(lambda m: m["msg"]["type"] == "event" and "service" not in m["msg"],
                             5, "the host stop event")

        msgs = self.sub.messages()
        self.assertEqual(self.sub.bad(), [])
        instance = msgs[0]["msg"]["instance"]
        self.assertRegex(instance, r"^[0-9a-f]{16}$")
        for m in msgs:
            msg = m["msg"]
            self.assertEqual(msg["v"], 1)
            self.assertEqual(msg["host"], "beat-host")
            self.assertEqual(msg["instance"], instance)
            self.assertEqual(m["topic"], "%s.beat-host" % msg["type"])
            self.assertIsInstance(msg["time_ms"], int)
        # One counter for beats and events, +1 per message, no gaps once
        # subscribed (only the very first messages may be lost).
        seqs = [m["msg"]["seq"] for m in msgs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.assertGreaterEqual(seqs[0], 1)

        # The stop event is the last message.
        self.assertIs(msgs[-1], stop)
        s = stop["msg"]
        self.assertEqual((s["from"], s["to"], s["reason"]), ("up", "stopped", "planned-stop"))

        # Beats every 200 ms, by the agent's send times (receipt times would
        # measure this test's reader thread too), on the agent's grid: the
        # cadence does not drift, a late beat does not move the next, and
        # after the stall the next beat is one beat away, not a burst of
        # the five missed ones (zbtest.assert_beat_grid). A late wake-up of
        # the agent under load is none of these.
        beats = self.sub.beats()
        sent = [b["msg"]["time_ms"] for b in beats]
        zbtest.assert_beat_grid(self, sent, 200, 6)
        # Past the stall (5 beats) no beat was sent: the gap is there.
        self.assertGreaterEqual(max(b - a for a, b in zip(sent, sent[1:])), 4 * 200,
                                "the stall is not in the beats: %s" % sent)
        # ... and they arrive as they are sent, not held and delivered in a
        # lump (receipt span against send span over the whole run).
        received = beats[-1]["t"] - beats[0]["t"]
        self.assertGreater(received, (sent[-1] - sent[0]) / 1000 / 2, (received, sent))

        # Snapshot fields.
        last = beats[-1]["msg"]
        self.assertEqual(last["interval_ms"], 200)
        self.assertEqual(last["dropped"], 0)
        by_name = {s["name"]: s for s in last["services"]}
        self.assertEqual(sorted(by_name), ["echo", "gone"])
        echo, gone = by_name["echo"], by_name["gone"]
        self.assertEqual((echo["kind"], echo["state"], echo["reason"], echo["error"]),
                         ("probe", "up", "ok", ""))
        # Round trips in microseconds: a local ping's, typically well under
        # 50 ms (the median: one read late by the agent's loop under load
        # counts in full).
        rtts = sorted(s["rtt_us"] for b in beats for s in b["msg"]["services"]
                      if s["name"] == "echo" and s["state"] == "up")
        self.assertGreater(echo["rtt_us"], 0)
        self.assertLess(rtts[len(rtts) // 2], 50000, rtts)
        up_event = [e for e in self.sub.events() if e["msg"].get("service") == "echo"][-1]
        self.assertEqual(echo["since_ms"], up_event["msg"]["at_ms"])
        self.assertEqual((gone["state"], gone["reason"]), ("down", "refused"))
        self.assertIsNone(gone["rtt_us"])
        self.assertRegex(gone["error"], "^connect: Connection refused$")
        self.assertLessEqual(gone["since_ms"], last["time_ms"])

        # Events carry the transition.
        down = [e["msg"] for e in self.sub.events() if e["msg"].get("service") == "echo" and
                e["msg"]["to"] == "down"][0]
        self.assertEqual((down["from"], down["reason"]), ("up", "refused"))
        self.assertIsInstance(down["at_ms"], int)

        # The log has one line per transition.
        log = agent.output()
        self.assertRegex(log, r"echo: up -> down \(refused: connect: Connection refused\)")
        self.assertRegex(log, r"echo: down -> up")

    def test_restart_changes_instance(self):
        agent = self.start_agent([], name="first")
        first = self.wait_subscribed()["msg"]
        self.assertEqual(first["services"], [])
        self.stop_agent(agent)
        start = self.mark()
        agent = self.start_agent([], name="second")
        second = self.sub.wait(lambda m: m["msg"]["type"] == "beat", 10, "a beat", start=start)
        self.assertNotEqual(first["instance"], second["msg"]["instance"])
        self.stop_agent(agent)

    def test_sigint_and_sighup(self):
        agent = self.start_agent([])
        self.wait_subscribed()
        agent.send_signal(signal.SIGHUP)
        # A reload of the same file: nothing changes (test_agent_reload.py has the rest).
        zbtest.wait_for(lambda: "0 added, 0 removed, 0 changed (0 restarted), 0 unchanged" in
                        agent.output(), 5, "SIGHUP reload logged")
        self.assertTrue(agent.alive())
        start = self.mark()
        self.assertEqual(agent.stop(signal.SIGINT), 0)
        self.sub.wait(lambda m: m["msg"].get("to") == "stopped", 5, "stop event", start=start)
        self.assertRegex(agent.output(), re.compile(r"stopping on Interrupt"))


if __name__ == "__main__":
    zbtest.main()
