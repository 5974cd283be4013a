"""zbeat-agent's command line and configuration errors: each bad file gives
exactly one stderr line naming the file and the key (or line), exit 2."""

import re

import zbtest

GOOD = """agent
    name = web-1
    monitor = tcp://127.0.0.1:7400
    beat = 1s
service
    redis
        probe = 127.0.0.1:6379
        send = "PING\\r\\n"            # C escapes
        expect = "+PONG"
        interval = 1s
        timeout = 500ms
        fails = 3
    ssh
        probe = 127.0.0.1:22         # connection-only
"""

SERVICE = "service\n    redis\n        probe = 127.0.0.1:6379\n"

# (name, file text, expected stderr after "zbeat-agent: FILE")
ERRORS = [
    ("bad_duration", SERVICE + "        timeout = 5x\n",
     r': service/redis/timeout: "5x" is not a duration'),
    ("bad_beat", "agent\n    beat = 1\n", r': agent/beat: "1" is not a duration'),
    ("beat_range", "agent\n    beat = 2h\n", r': agent/beat: "2h" is out of range'),
    ("unknown_key", SERVICE + "        intreval = 2s\n", r": service/redis/intreval: unknown key"),
    ("unknown_agent_key", "agent\n    nmae = x\n", r": agent/nmae: unknown key"),
    ("unknown_section", "agnet\n    name = x\n", r": agnet: unknown key"),
    ("bad_name", "service\n    -redis\n        probe = 127.0.0.1:1\n",
     r': service/-redis: "-redis" is not a valid service name'),
    ("long_name", "service\n    %s\n        probe = 127.0.0.1:1\n" % ("a" * 65),
     r': service/a{65}: "a{65}" is not a valid service name'),
    ("bad_host_name", "agent\n    name = -x\n", r': agent/name: "-x" is not a valid host name'),
    ("missing_probe", "service\n    redis\n        interval = 2s\n",
     r": service/redis: one of probe = host:port, push = DURATION, ttl = DURATION is required"),
    ("bad_port", "service\n    redis\n        probe = 127.0.0.1:70000\n",
     r': service/redis/probe: "127.0.0.1:70000" is not host:port \(port must be 1..65535\)'),
    ("no_port", "service\n    redis\n        probe = 127.0.0.1\n",
     r': service/redis/probe: "127.0.0.1" is not host:port'),
    ("timeout_ge_interval", SERVICE + "        interval = 1s\n        timeout = 2s\n",
     r": service/redis/timeout: timeout 2.0s must be shorter than interval 1.0s"),
    ("fails_range", SERVICE + "        fails = 101\n",
     r": service/redis/fails: 101 is out of range \(1 to 100\)"),
    ("bad_escape", SERVICE + '        send = "PING\\q"\n', r": service/redis/send: unknown escape"),
    ("expect_without_send", SERVICE + '        expect = "+PONG"\n',
     r": service/redis/expect: needs send"),
    ("duplicate", SERVICE + "    redis\n        probe = 127.0.0.1:1\n",
     r": service/redis: service given twice"),
    ("bad_monitor", "agent\n    monitor = 127.0.0.1:7400\n",
     r': agent/monitor: "127.0.0.1:7400" is not an endpoint'),
    ("bad_listen", "agent\n    listen = tcp://127.0.0.1\n", r": agent/listen: "),
    ("probe_and_push", SERVICE + "        push = 1s\n",
     r": service/redis/push: a service takes exactly one of probe, push, ttl \(probe is set\)"),
    ("push_with_send", "service\n    w\n        push = 1s\n        send = x\n",
     r": service/w/send: does not apply to push services"),
    ("push_range", "service\n    w\n        push = 2h\n", r': service/w/push: "2h" is out of range'),
    ("push_timeout_short", "service\n    w\n        push = 10s\n        timeout = 5s\n",
     r": service/w/timeout: timeout 5.0s must not be shorter than push 10.0s"),
    ("ttl_bad", "service\n    w\n        ttl = 1\n", r': service/w/ttl: "1" is not a duration'),
    ("listen_ipc", "agent\n    listen = ipc:///tmp/x\n",
     r': agent/listen: "ipc:///tmp/x": only tcp:// is supported'),
    ("journal_dir_missing", "agent\n    journal = /nonexistent-zbeat-dir/journal\n",
     r": agent/journal: directory /nonexistent-zbeat-dir: No such file or directory"),
    ("journal_dir_not_dir", "agent\n    journal = /dev/null/journal\n",
     r": agent/journal: /dev/null is not a directory"),
    ("journal_empty", "agent\n    journal = \"\"\n", r": agent/journal: is empty"),
    ("duration_hex", SERVICE + "        timeout = 0x10s\n",
     r': service/redis/timeout: "0x10s" is not a duration'),
    ("duration_exponent", SERVICE + "        interval = 1e-1s\n",
     r': service/redis/interval: "1e-1s" is not a duration'),
    ("syntax_control_bytes", "agent\n    na\x1b[2Jme = x\n",
     r":2: invalid syntax '\\x1b\[2Jme = x'$"),
    ("syntax_indent", "agent\n    name = x\n      beat = 1s\n", r":3: indent"),
    ("syntax_quote", "agent\n    name = \"x\n", r":2: "),
]


class AgentConfigTest(zbtest.TestCase):

    def setUp(self):
        super().setUp()
        self.agent = zbtest.bin("zbeat-agent")

    def run_agent(self, *args, env=None):
        return self.run_cmd([self.agent] + list(args), env=env)

    def test_errors(self):
        for name, text, expect in ERRORS:
            with self.subTest(name):
                path = self.write("%s.cfg" % name, text)
                for args in (["-c", path, "--check-config"], ["-c", path]):
                    rc, out, err = self.run_agent(*args)
                    self.assertEqual(rc, 2, err)
                    self.assertEqual(out, "")
                    lines = err.splitlines()
                    self.assertEqual(len(lines), 1, err)
                    self.assertRegex(lines[0], "^zbeat-agent: " + re.escape(path) + expect)

    def test_unresolvable_name_is_a_warning(self):
        """A name that does not resolve is a service that is down (reason
        dns) until it does, not a configuration error (issue 16)."""
        path = self.write("unresolvable.cfg",
                          "service\n    redis\n        probe = no-such-host.invalid:1\n")
        rc, out, err = self.run_agent("-c", path, "--check-config")
        self.assertEqual((rc, out), (0, "%s: ok\n" % path), err)
        self.assertRegex(err, "^zbeat-agent: " + re.escape(path) +
                         r': service/redis/probe: warning: cannot resolve "no-such-host.invalid": '
                         r'.+ \(the service is down until it resolves\)\n$')

    def test_missing_file(self):
        rc, out, err = self.run_agent("-c", "/nonexistent/agent.cfg")
        self.assertEqual(rc, 2)
        self.assertEqual(err, "zbeat-agent: /nonexistent/agent.cfg: No such file or directory\n")

    def test_check_config_ok(self):
        path = self.write("good.cfg", GOOD)
        rc, out, err = self.run_agent("-c", path, "--check-config")
        self.assertEqual((rc, out, err), (0, "%s: ok\n" % path, ""))
        # An agent without services is valid: it still beats.
        path = self.write("empty.cfg", "")
        rc, out, err = self.run_agent("--check-config", "--config", path)
        self.assertEqual((rc, out, err), (0, "%s: ok\n" % path, ""))

    def test_overrides(self):
        path = self.write("good.cfg", GOOD)
        rc, out, err = self.run_agent("-c", path, "--check-config", "--name", "bad name")
        self.assertEqual(rc, 2)
        self.assertEqual(err, 'zbeat-agent: --name: "bad name" is not a valid host name '
                              '(1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)\n')
        rc, out, err = self.run_agent("-c", path, "--check-config", env={"ZBEAT_HOST": "-bad"})
        self.assertEqual(rc, 2)
        self.assertRegex(err, r'^zbeat-agent: ZBEAT_HOST: "-bad" is not a valid host name')
        rc, out, err = self.run_agent("-c", path, "--check-config",
                                      env={"ZBEAT_MONITOR": "nope"})
        self.assertEqual(rc, 2)
        self.assertRegex(err, r'^zbeat-agent: ZBEAT_MONITOR: "nope" is not an endpoint')
        # The flag wins over the environment, which wins over the file.
        rc, out, err = self.run_agent("-c", path, "--check-config", "--monitor",
                                      "tcp://127.0.0.1:1", env={"ZBEAT_MONITOR": "nope"})
        self.assertEqual(rc, 0, err)

    def test_override_reaches_messages(self):
        sub = self.sub()
        path = self.write("a.cfg", "agent\n    name = from-file\n    beat = 100ms\n")
        agent = self.start([self.agent, "-c", path, "--monitor", sub.endpoint],
                           "agent", env={"ZBEAT_HOST": "from-env"})
        beat = sub.wait(lambda m: m["msg"]["type"] == "beat", 10, "a beat")
        self.assertEqual(beat["msg"]["host"], "from-env")
        self.assertEqual(agent.stop(), 0)

    def test_usage(self):
        rc, out, err = self.run_agent("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^zbeat-agent \d+\.\d+\.\d+\n$")
        rc, out, err = self.run_agent("--help")
        self.assertEqual(rc, 0)
        self.assertIn("--check-config", out)
        self.assertEqual(err, "")
        for args, expect in ((["--bogus"], "unknown option '--bogus'"),
                             ([], "no configuration file"),
                             (["-c"], "-c needs a value"),
                             (["-c", "x", "extra"], "unexpected argument 'extra'")):
            with self.subTest(args):
                rc, out, err = self.run_agent(*args)
                self.assertEqual(rc, 2)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn(expect, err)


if __name__ == "__main__":
    zbtest.main()
