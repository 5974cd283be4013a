"""zbeat-monitor with real zbeat-agent processes probing a real redis-server
and test TCP servers: outages as they happen, frozen and stopped agents,
agent and monitor restarts, three hosts at once."""

import signal
import time

import zbtest
from agent_helpers import REDIS_PING as PING, agent_config, redis_probe
from monitor_helpers import MonitorCase, host_outages, parse_rfc3339_ms, service_outages


def ts(text):
    return parse_rfc3339_ms(text) / 1000.0


class MonitorAgentTest(MonitorCase):

    def setUp(self):
        super().setUp()
        self.agent_bin = zbtest.bin("zbeat-agent")

    def start_agent(self, host, services, beat="250ms", name=None):
        return self.start_agent_config(agent_config(self.endpoint, services, host, beat),
                                       name or host, cfg="%s.cfg" % host)

    def redis_service(self, redis, interval="2s"):
        return redis_probe(redis.port, interval, "500ms")

    def test_killed_service_is_an_outage_with_the_right_times(self):
        self.start_monitor()
        redis = self.redis()
        interval = 2.0
        self.start_agent("web-1", [self.redis_service(redis)])
        self.wait_state("web-1", "redis", "up", 15)

        t_kill = time.time()
        redis.kill()
        rows = self.wait_outages(lambda r: r, 10, "redis outage")
        t_seen = time.time()
        o = rows[0]
        self.assertEqual((o["host"], o["service"], o["kind"]), ("web-1", "redis", "service"))
        # Killed mid-connect, the agent may see a reset ("error": the
        # agent's classification, not the monitor's business here).
        self.assertIn(o["reason"], ("refused", "closed", "error"))
        self.assertIsNone(o["ended_at"])
        # Recorded soon after the kill (t_seen includes the CLI polls, so
        # one interval plus slack; a monitor that sat on it for seconds
        # fails), and starting at it by the agent's clock.
        self.assertLess(t_seen - t_kill, interval + 1.0 * zbtest.SLOW)
        self.assertGreaterEqual(ts(o["started_at"]), t_kill - 0.05)
        self.assertLess(ts(o["started_at"]) - t_kill, interval)
        self.assertEqual(self.status()[("web-1", "redis")]["state"], "down")

        t_restart = time.time()
        redis.start()  # returns when redis accepts
        t_ready = time.time()
        rows = self.wait_outages(lambda r: r[0]["ended_at"], 15, "outage closed")
        self.assertEqual(len(rows), 1)
        o = rows[0]
        self.assertEqual(o["end_reason"], "up")
        # Up again within an interval of the restart (the agent's backoff is
        # capped at the interval), plus the agent's and redis's scheduling
        # under load; the duration is what really happened.
        late = interval + 1.5 * zbtest.SLOW
        self.assertGreaterEqual(ts(o["ended_at"]), t_restart - 0.05)
        # (From when redis accepted: its start-up is not the agent's.)
        self.assertLess(ts(o["ended_at"]) - t_ready, late)
        self.assertAlmostEqual(o["duration_s"], ts(o["ended_at"]) - ts(o["started_at"]),
                               delta=0.002)
        # From the kill (seen within an interval, above) to the restart.
        self.assertGreater(o["duration_s"], t_restart - t_kill - interval)
        self.assertLess(o["duration_s"], t_ready - t_kill + late)

    def test_frozen_agent_is_silent_and_a_stopped_one_is_not(self):
        self.start_monitor()
        redis = self.redis()
        beat = 0.25
        agent = self.start_agent("web-1", [self.redis_service(redis)])
        witness = self.start_agent("witness-1", [])
        self.wait_state("web-1", "redis", "up", 15)
        self.wait_beating("web-1")
        self.wait_beating("witness-1")

        agent.send_signal(signal.SIGSTOP)
        self.wait_state("web-1", None, "silent", 10)
        detected = self.log_time(r"host silent: web-1")
        self.assertEqual(self.status()[("web-1", "redis")]["state"], "unknown")
        rows = self.outages()
        self.assertEqual(len(host_outages(rows, "web-1")), 1)
        self.assertEqual(service_outages(rows), [], "a silent host's services are not down")
        # Silent from when it was last heard (the outage's start: the
        # monitor's receipt of its last beat, however late the agent sent
        # that one before the stop), never before liveness (5, the
        # default) x beat after it: both by the monitor's clock (whole
        # ms). After it by the monitor's wake-up at that deadline, and by
        # as much as the detector lengthened the threshold for gaps under
        # load; a silence found only seconds later, or never, goes past it.
        started = ts(host_outages(rows, "web-1")[0]["started_at"])
        self.assertGreaterEqual(detected - started, 5 * beat - 0.002)
        self.assertLess(detected - started, 5 * beat + 1.0 * zbtest.SLOW)

        t_cont = time.time()
        agent.send_signal(signal.SIGCONT)
        rows = self.wait_outages(lambda r: host_outages(r)[0]["ended_at"], 10, "host back")
        o = host_outages(rows)[0]
        # Back at the first beat after the resume (one is overdue then).
        self.assertGreaterEqual(ts(o["ended_at"]), t_cont - 0.05)
        self.assertLess(ts(o["ended_at"]) - t_cont, beat + 1.0 * zbtest.SLOW)
        self.wait_state("web-1", "redis", "up", 10)
        self.assertEqual(self.status()[("web-1", None)]["state"], "alive")

        # SIGTERM: a planned stop. The witness is killed at the same moment;
        # once it is flagged silent, web-1's deadline has passed as well.
        agent.stop(signal.SIGTERM)
        witness.stop(signal.SIGKILL)
        self.wait_state("web-1", None, "stopped", 10)
        self.wait_state("witness-1", None, "silent", 10)
        self.assertEqual(self.status()[("web-1", None)]["state"], "stopped")
        self.assertEqual(self.status()[("web-1", "redis")]["state"], "unknown")
        rows = self.outages("--host", "web-1")
        self.assertEqual(len(rows), 1, "only the freeze: %s" % rows)

    def test_agent_restarts_create_no_phantom_outages(self):
        self.start_monitor(["--liveness", "10"])
        redis = self.redis()
        server = zbtest.TcpServer(self)
        services = [self.redis_service(redis, "1s"),
                    ("api", dict(PING, probe="127.0.0.1:%d" % server.port, interval="1s",
                                 timeout="500ms"))]
        agent = self.start_agent("web-1", services)
        self.wait_state("web-1", "api", "up", 15)
        first = self.cli_json("hosts")[0]["instance"]

        agent.stop(signal.SIGTERM)
        self.wait_state("web-1", None, "stopped", 10)
        agent = self.start_agent("web-1", services, name="agent2")
        zbtest.wait_for(lambda: self.cli_json("hosts")[0]["instance"] != first, 10,
                        "the new instance")
        self.wait_state("web-1", "redis", "up", 10)
        self.wait_state("web-1", "api", "up", 10)

        # A crash and a quick restart: still nothing.
        second = self.cli_json("hosts")[0]["instance"]
        agent.stop(signal.SIGKILL)
        self.start_agent("web-1", services, name="agent3")
        zbtest.wait_for(lambda: self.cli_json("hosts")[0]["instance"] != second, 10,
                        "the third instance")
        self.wait_state("web-1", "redis", "up", 10)
        self.wait_state("web-1", "api", "up", 10)
        self.assertEqual(self.outages(), [])
        self.assertEqual(self.cli_json("hosts")[0]["state"], "alive")

    def test_monitor_restart_while_down_keeps_one_outage(self):
        self.start_monitor()
        redis = self.redis()
        self.start_agent("web-1", [self.redis_service(redis, "1s")])
        self.wait_state("web-1", "redis", "up", 15)
        redis.kill()
        rows = self.wait_outages(lambda r: r, 10, "redis outage")
        started = rows[0]["started_at"]

        self.stop_monitor()
        self.start_monitor(name="monitor2")
        # Logged a moment after "listening on", which the start waits for.
        zbtest.wait_for(lambda: "1 hosts known" in self.monitor.output(), 10,
                        "the monitor started with the host it knew")
        self.assertEqual(self.status()[("web-1", "redis")]["state"], "down")
        # The agent reconnects by itself; whether its up event or its next
        # beat reaches the new monitor first, the same outage closes.
        redis.start()
        rows = self.wait_outages(lambda r: r[0]["ended_at"], 15, "outage closed")
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["started_at"], started)
        self.assertEqual(rows[0]["end_reason"], "up")
        self.assertGreater(rows[0]["duration_s"], 0)

    def test_three_agents_at_once(self):
        self.start_monitor()
        redis = self.redis()
        servers = {h: zbtest.TcpServer(self) for h in ("h-a", "h-b", "h-c")}
        agents = {}
        for host, server in servers.items():
            agents[host] = self.start_agent(host, [
                self.redis_service(redis, "1s"),
                ("api", dict(PING, probe="127.0.0.1:%d" % server.port, interval="1s",
                             timeout="500ms"))])
        for host in servers:
            self.wait_state(host, "api", "up", 15)
            self.wait_beating(host)

        servers["h-b"].set_mode("refuse")
        agents["h-c"].send_signal(signal.SIGSTOP)
        self.wait_outages(lambda r: service_outages(r, "h-b", "api") and host_outages(r, "h-c"),
                          10, "h-b/api down and h-c silent")
        status = self.status()
        self.assertEqual(status[("h-a", None)]["state"], "alive")
        self.assertEqual(status[("h-a", "api")]["state"], "up")
        self.assertEqual(status[("h-a", "redis")]["state"], "up")
        self.assertEqual(status[("h-b", "api")]["state"], "down")
        self.assertEqual(status[("h-b", "redis")]["state"], "up")
        self.assertEqual(status[("h-c", None)]["state"], "silent")
        self.assertEqual(status[("h-c", "api")]["state"], "unknown")
        rows = self.outages()
        self.assertEqual(len(rows), 2, rows)

        # Filters on live data.
        self.assertEqual([(r["host"], r["service"]) for r in self.outages("--host", "h-b")],
                         [("h-b", "api")])
        self.assertEqual([r["host"] for r in self.outages("--service", "api")], ["h-b"])
        self.assertEqual(self.outages("--host", "h-a"), [])
        self.assertEqual(len(self.outages("--open")), 2)
        rc, out, err = self.cli("status", "--all")
        self.assertEqual(rc, 0, err)
        for host in servers:
            self.assertIn(host, out)

        agents["h-c"].send_signal(signal.SIGCONT)
        servers["h-b"].set_mode("answer")
        self.wait_outages(lambda r: all(o["ended_at"] for o in r), 15, "all closed")
        self.assertEqual(self.outages("--open"), [])
        self.assertEqual(len(self.outages()), 2)


if __name__ == "__main__":
    zbtest.main()
