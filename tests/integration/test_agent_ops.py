"""Operating the agent (issue 10): --probe-once against a live redis, a
refused port and a hanging server; --log-format json."""

import json
import signal
import time

import zbtest
from agent_helpers import AgentCase, REDIS_PING, agent_config


class ProbeOnceTest(zbtest.TestCase):

    def setUp(self):
        super().setUp()
        self.agent = zbtest.bin("zbeat-agent")

    def once(self, *args):
        t = time.monotonic()
        rc, out, err = self.run_cmd([self.agent] + list(args))
        return rc, out, err, time.monotonic() - t

    def test_live_redis(self):
        redis = self.redis()
        target = "127.0.0.1:%d" % redis.port
        rc, out, err, _ = self.once("--probe-once", target, "--send", "PING\\r\\n",
                                    "--expect", "+PONG")
        self.assertEqual(rc, 0, out + err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "probe %s (%s), timeout 500ms" % (target, target))
        self.assertRegex(lines[1], r"^connect: ok in \d+\.\d{3}ms$")
        self.assertEqual(lines[2], 'send: 6 bytes "PING\\r\\n"')
        self.assertRegex(lines[3], r'^reply: 7 bytes in \d+\.\d{3}ms "\+PONG\\r\\n"$')
        self.assertRegex(lines[4], r"^verdict: up \(ok\), rtt \d+\.\d{3}ms$")
        self.assertEqual(len(lines), 5)
        self.assertEqual(err, "")

        # A reply that is not the expected one.
        rc, out, _, _ = self.once("--probe-once", target, "--send", "PING\\r\\n",
                                  "--expect", "+PANG")
        self.assertEqual(rc, 1)
        self.assertIn('verdict: down (bad-response: bad response "+PONG\\r\\n")', out)

        # Connection only.
        rc, out, _, _ = self.once("--probe-once", target)
        self.assertEqual(rc, 0)
        self.assertIn("timeout 500ms, connection only\n", out)
        self.assertNotIn("send:", out)

        # The same through a configuration file, by service name.
        keys = dict(REDIS_PING, probe=target, timeout="300ms")
        path = self.write("agent.cfg", agent_config("tcp://127.0.0.1:1", [
            ("redis", keys), ("worker", {"push": "1s"})]))
        rc, out, err, _ = self.once("-c", path, "--probe-once", "redis")
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(out.startswith("probe redis: %s (%s), timeout 300ms\n" % (target, target)))
        self.assertIn("verdict: up (ok)", out)

        # Usage errors: 2, one line on stderr.
        for args, message in [
                (["-c", path, "--probe-once", "nosuch"], 'no service "nosuch"'),
                (["-c", path, "--probe-once", "worker"], "worker is a push service"),
                (["-c", path, "--probe-once", "redis", "--timeout", "1s"],
                 "--timeout and the other service keys go with --probe-once HOST:PORT"),
                (["--probe-once", target, "--expect", "+PONG"], "--expect: needs send"),
                (["--probe-once", target, "--send", "PING\\q"], "--send: unknown escape"),
                (["--probe-once", target, "--send", ""], "--send: is empty"),
                # The flags are a service's keys, checked as the file's are.
                (["--probe-once", target, "--check", "nosuch"], "--check: \"nosuch\" is not a check"),
                (["--probe-once", target, "--tls-verify", "no"], "--tls-verify: needs tls = yes"),
                (["--probe-once", target, "--tls=maybe"], "--tls: \"maybe\" is not yes or no"),
                (["--probe-once", target, "--check", "postgres", "--send", "x"],
                 "--send: does not go with check = postgres"),
                (["--probe-once", target, "--expect-status", "200"],
                 "--expect-status: needs http = METHOD PATH"),
                (["--probe-once", target, "--check", "http", "--expect-status", "99"],
                 "--expect-status: "),
                (["--probe-once", target, "--timeout", "5"], "--timeout: \"5\" is not"),
                (["--probe-once", "127.0.0.1"], "--probe-once: "),
                (["--probe-once", "127.0.0.1:0"], "--probe-once: "),
                (["-c", path, "--send", "x"], "--send goes with --probe-once"),
                (["-c", path, "--check-config", "--probe-once", "redis"], "do not mix")]:
            rc, out, err, _ = self.once(*args)
            self.assertEqual(rc, 2, args)
            self.assertIn(message, err, args)
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertEqual(out, "")

    def test_check_redis_by_flag(self):
        """--check redis: the preset, as check = redis in a file sets it."""
        redis = self.redis()
        target = "127.0.0.1:%d" % redis.port
        rc, out, err, _ = self.once("--probe-once", target, "--check", "redis")
        self.assertEqual(rc, 0, out + err)
        self.assertIn('send: 6 bytes "PING\\r\\n"\n', out)
        self.assertRegex(out, r'reply: 7 bytes in [0-9.]+ms "\+PONG\\r\\n"')
        self.assertIn("verdict: up (ok)", out)
        # memcached's exchange against redis: redis answers it with an error.
        rc, out, err, _ = self.once("--probe-once", target, "--check", "memcached")
        self.assertEqual(rc, 1, out + err)
        self.assertIn('verdict: down (bad-response: bad response "-ERR', out)

    def test_refused(self):
        port = zbtest.free_port()
        rc, out, err, took = self.once("--probe-once", "127.0.0.1:%d" % port, "--send", "PING\\r\\n")
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"connect: failed after \d+\.\d{3}ms: Connection refused\n")
        self.assertTrue(out.endswith("verdict: down (refused: connect: Connection refused)\n"),
                        out)
        self.assertLess(took, 5)

    def test_hanging_server(self):
        server = zbtest.TcpServer(self, mode="hang")
        rc, out, err, took = self.once("--probe-once", "127.0.0.1:%d" % server.port, "--send",
                                       "PING\\r\\n", "--expect", "+PONG", "--timeout", "300ms")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("reply: none after ", out)
        self.assertTrue(out.endswith("verdict: down (timeout: no reply within 300ms)\n"), out)
        self.assertGreaterEqual(took, 0.3)
        self.assertEqual(server.accepted, 1)

        # A server that closes without a reply.
        server.set_mode("close")
        rc, out, _, _ = self.once("--probe-once", "127.0.0.1:%d" % server.port, "--send", "x\\n")
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"verdict: down \(closed: .* while waiting for a reply\)\n$")


class JsonLogTest(AgentCase):

    def json_lines(self, proc):
        lines = [line for line in proc.output().splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]  # every line is one object
        for r in records:
            self.assertRegex(r["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(r["level"], ("debug", "info", "warning", "error"))
            self.assertEqual(r["ident"], "zbeat-agent")
            self.assertIsInstance(r["msg"], str)
        return records

    def test_state_lines_have_fields(self):
        redis = self.redis()
        agent = self.start_agent([("redis", dict(REDIS_PING, probe="127.0.0.1:%d" % redis.port))],
                                 args=["--log-format", "json"])
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "redis") == "up", 10, "a beat with redis up")
        start = self.mark()
        redis.kill()
        self.wait_event("redis", "down", 10, start=start)
        zbtest.wait_for(lambda: any(r.get("state") == "down" for r in self.json_lines(agent)), 5,
                        "the down line")
        states = [r for r in self.json_lines(agent) if "state" in r]
        self.assertEqual([(r["from"], r["state"]) for r in states],
                         [("unknown", "up"), ("up", "down")])
        up, down = states
        self.assertEqual((up["host"], up["service"], up["reason"], up["level"]),
                         ("test-host", "redis", "ok", "info"))
        self.assertNotIn("error", up)
        self.assertEqual((down["host"], down["service"], down["reason"]),
                         ("test-host", "redis", "refused"))
        self.assertIn(down["error"], ("connect: Connection refused",
                                      "connection closed by peer while waiting for a reply"))
        self.assertEqual(down["msg"], "redis: up -> down (refused: %s)" % down["error"]
                         if down["reason"] == "refused" else down["msg"])
        # -v: debug lines are JSON too.
        self.assertTrue(any(r["level"] == "debug" for r in self.json_lines(agent)))

        # A rejected reload is one JSON error line.
        path = self.write("agent.cfg", "agent\n    beat = 5x\n")
        agent.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: any(r["level"] == "error" for r in self.json_lines(agent)), 5,
                        "the error line")
        error = [r for r in self.json_lines(agent) if r["level"] == "error"][0]
        self.assertEqual(error["msg"], "reload rejected: %s: agent/beat: \"5x\" is not a duration "
                         "(e.g. 500ms, 2s, 1m, 1h, 7d); carrying on with the previous "
                         "configuration" % path)
        self.stop_agent(agent)
        self.json_lines(agent)

    def test_flag_errors(self):
        rc, out, err = self.run_cmd([self.agent_bin, "--log-format", "xml", "-c", "x.cfg"])
        self.assertEqual(rc, 2)
        self.assertEqual(err, "zbeat-agent: --log-format: \"xml\" is not text or json\n")
        # A bad file at start-up: one JSON line too.
        path = self.write("bad.cfg", "agent\n    nmae = x\n")
        rc, out, err = self.run_cmd([self.agent_bin, "--log-format", "json", "-c", path])
        self.assertEqual(rc, 2)
        record = json.loads(err)
        self.assertEqual((record["level"], record["msg"]), ("error", "%s: agent/nmae: unknown key"
                                                            % path))
        # --check-config stays plain.
        rc, out, err = self.run_cmd([self.agent_bin, "--log-format", "json", "-c", path,
                                     "--check-config"])
        self.assertEqual(rc, 2)
        self.assertEqual(err, "zbeat-agent: %s: agent/nmae: unknown key\n" % path)



class ContainerNameTest(zbtest.TestCase):
    """An agent named like a container id (Docker's default host name) is
    warned about: every recreate would make it a new host."""

    def config(self, name):
        return self.write("agent-%s.cfg" % name, agent_config("tcp://127.0.0.1:1", [
            ("worker", {"push": "1s"})], host=name))

    def test_container_id_name_is_warned_about(self):
        agent = zbtest.bin("zbeat-agent")
        for name, warned in [("3f9c2a1b7d4e", True), ("a" * 64, True), ("web-1", False),
                             ("3f9c2a1b7d4", False), ("3f9c2a1b7d4g", False)]:
            rc, out, err = self.run_cmd([agent, "-c", self.config(name), "--check-config"])
            self.assertEqual(rc, 0, err)
            self.assertEqual("looks like a container id" in err, warned, (name, err))
        # The environment names it: no warning, the name taken from ZBEAT_NAME.
        rc, out, err = self.run_cmd([agent, "-c", self.config("3f9c2a1b7d4e"), "--check-config"],
                                    env={"ZBEAT_NAME": "web-1"})
        self.assertEqual((rc, err), (0, ""))
        # A running agent says it in its log.
        proc = self.start([agent, "-c", self.config("0123456789ab")], "agent")
        zbtest.wait_for(lambda: "looks like a container id" in proc.output(), 10,
                        "the warning in the agent's log")


if __name__ == "__main__":
    zbtest.main()
