"""GET /metrics?detail=all|problems|none and the monitor's metrics-detail
key (issue 22: a scrape whose size follows the problems, not the fleet):
real agents probing a real redis-server (up) and a refused port (down), and
an agent killed (its host silent). Every mode keeps the fleet's counts by
state (zbeat_hosts, zbeat_services: GET /api/v1/summary's numbers)."""

import signal

import zbtest
from agent_helpers import REDIS_PING, agent_config
from http_helpers import HttpCase, check_metrics_text, sample

HOST_STATES = ("alive", "silent", "stopped", "name-conflict")
SERVICE_STATES = ("up", "down", "unknown", "stopped")


class HttpMetricsDetailTest(HttpCase):

    def start_agent(self, host, services):
        return self.start_agent_config(agent_config(self.endpoint, services, host, "250ms"), host)

    def start_fleet(self, args=()):
        """web-1: redis up; web-2: api down (a refused port); web-3: silent
        (its agent killed)."""
        self.start_http_monitor(list(args))
        redis = self.redis()
        self.start_agent("web-1", [("redis", dict(REDIS_PING, probe="127.0.0.1:%d" % redis.port,
                                                  interval="1s", timeout="500ms"))])
        self.start_agent("web-2", [("api", {"probe": "127.0.0.1:%d" % zbtest.free_port(),
                                            "interval": "1s", "timeout": "500ms"})])
        web3 = self.start_agent("web-3", [])
        self.wait_state("web-1", "redis", "up", 15)
        self.wait_state("web-2", "api", "down", 15)
        self.wait_state("web-3", None, "alive", 15)
        web3.stop(signal.SIGKILL)
        self.wait_state("web-3", None, "silent", 15)

    def metrics(self, query=""):
        a = self.get("/metrics" + query)
        self.assertEqual(a.status, 200, "GET /metrics%s: %s" % (query, a.body[:300]))
        return check_metrics_text(self, a.text())

    def assert_counts(self, m):
        """The fleet's counts: /api/v1/summary's, every known state listed."""
        summary = self.get_json("/api/v1/summary")
        for name, kind, states in (("zbeat_hosts", "hosts", HOST_STATES),
                                   ("zbeat_services", "services", SERVICE_STATES)):
            for state in states:
                self.assertEqual(sample(m, name, state=state),
                                 summary[kind]["states"].get(state, 0), (name, state))
        self.assertEqual(sample(m, "zbeat_hosts", state="alive"), 2)
        self.assertEqual(sample(m, "zbeat_hosts", state="silent"), 1)
        self.assertEqual(sample(m, "zbeat_hosts", state="stopped"), 0)
        self.assertEqual(sample(m, "zbeat_services", state="up"), 1)
        self.assertEqual(sample(m, "zbeat_services", state="down"), 1)
        self.assertEqual(sample(m, "zbeat_services", state="unknown"), 0)
        # The monitor's own counters stay too.
        self.assertGreater(sample(m, "zbeat_messages_total"), 0)

    def assert_rows(self, m, redis, api, hosts):
        """Whether the series of web-1's redis (up), web-2's api (down) and
        the hosts' are there."""
        redis_up = sample(m, "zbeat_service_up", host="web-1", service="redis")
        api_up = sample(m, "zbeat_service_up", host="web-2", service="api")
        self.assertEqual(redis_up, 1.0 if redis else None)
        self.assertEqual(api_up, 0.0 if api else None)
        self.assertEqual(sample(m, "zbeat_service_state", host="web-2", service="api",
                                state="down"), 1.0 if api else None)
        self.assertEqual(sample(m, "zbeat_service_state", host="web-1", service="redis",
                                state="up"), 1.0 if redis else None)
        for host in hosts:
            alive = hosts[host]
            self.assertEqual(sample(m, "zbeat_host_alive", host=host),
                             None if alive is None else float(alive), host)

    def test_detail_modes(self):
        self.start_fleet()
        # Default: every row, as before.
        m = self.metrics()
        self.assert_rows(m, redis=True, api=True, hosts={"web-1": 1, "web-2": 1, "web-3": 0})
        self.assert_counts(m)
        # The problems: the down service and the silent host only.
        m = self.metrics("?detail=problems")
        self.assert_rows(m, redis=False, api=True, hosts={"web-1": None, "web-2": None,
                                                          "web-3": 0})
        self.assertEqual(sample(m, "zbeat_host_state", host="web-3", state="silent"), 1)
        self.assertIsNone(sample(m, "zbeat_service_state_since_seconds", host="web-1",
                                 service="redis"))
        self.assert_counts(m)
        # None: the counts and the counters only.
        m = self.metrics("?detail=none")
        self.assert_rows(m, redis=False, api=False, hosts={"web-1": None, "web-2": None,
                                                           "web-3": None})
        self.assertFalse([k for k in m if k[0].startswith(("zbeat_host_", "zbeat_service_"))])
        self.assert_counts(m)
        m = self.metrics("?detail=all")
        self.assert_rows(m, redis=True, api=True, hosts={"web-1": 1, "web-2": 1, "web-3": 0})
        # A bad value: 400 with a JSON error naming the parameter.
        for query, expect in (("?detail=verbose", 'detail: "verbose" is not one of all, '
                                                  'problems, none'),
                              ("?detail=", 'detail: "" is not one of'),
                              ("?detail=none&detail=all", "detail")):
            a = self.get("/metrics" + query)
            self.assertEqual(a.status, 400, query)
            self.assertEqual(a.headers.get("content-type"), "application/json")
            self.assertIn(expect, a.json()["error"])

    def test_config_sets_the_default_and_reloads(self):
        path = self.write("m.cfg", "monitor\n    metrics-detail = problems\n")
        self.start_fleet(["-c", path])
        m = self.metrics()
        self.assert_rows(m, redis=False, api=True, hosts={"web-1": None, "web-3": 0})
        self.assert_counts(m)
        # The scrape's parameter wins over the key.
        self.assert_rows(self.metrics("?detail=all"), redis=True, api=True,
                         hosts={"web-1": 1, "web-3": 0})
        # SIGHUP: the HTTP server restarts with the new default.
        self.write("m.cfg", "monitor\n    metrics-detail = none\n")
        before = self.monitor.output().count("reloaded ")
        self.monitor.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: self.monitor.output().count("reloaded ") > before, 10,
                        "the reload")

        def none_served():
            try:
                a = self.get("/metrics")
            except OSError:
                return None  # restarting
            return a.status == 200 and "zbeat_service_up{" not in a.text()
        zbtest.wait_for(none_served, 10, "/metrics without series after the reload")
        self.assert_rows(self.metrics(), redis=False, api=False, hosts={"web-3": None})

    def test_bad_config_value_exits_2(self):
        monitor = zbtest.bin("zbeat-monitor")
        for value in ("verbose", '""', "Problems"):
            path = self.write("bad.cfg", "monitor\n    metrics-detail = %s\n" % value)
            for args in (["-c", path, "--check-config"],
                         ["-c", path, "--db", self.db, "--http", "127.0.0.1:0"]):
                rc, out, err = self.run_cmd([monitor] + args)
                self.assertEqual(rc, 2, "%s: %s" % (args, err))
                lines = err.strip().splitlines()
                self.assertEqual(len(lines), 1, err)
                self.assertIn(path, lines[0])
                self.assertIn("monitor/metrics-detail", lines[0])
                self.assertIn("is not one of all, problems, none", lines[0])


if __name__ == "__main__":
    zbtest.main()
