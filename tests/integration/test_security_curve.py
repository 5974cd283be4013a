"""CURVE authentication and per-host identity (docs/security.md), with real
monitors, real agents, real redis and keys made by `zbeat keygen`."""

import os
import re
import stat
import time

import zbtest
from monitor_helpers import host_outages, service_outages
from security_helpers import CurveFake, SecureCase, redis_service


class KeygenTest(SecureCase):
    def test_files_modes_metadata_and_no_overwrite(self):
        self.keygen("--host", "web-1", "--out", self.keys)
        public = os.path.join(self.keys, "web-1.cert")
        secret = public + "_secret"
        self.assertEqual(stat.S_IMODE(os.stat(secret).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.monitor_secret).st_mode), 0o600)
        text = self.read(public)
        self.assertRegex(text, r'host = "web-1"')
        self.assertRegex(text, r'public-key = "[^"]{40}"')
        self.assertNotIn("secret-key", text)
        self.assertIn("secret-key", self.read(secret))
        before = self.read(secret)
        rc, _, err = self.run_cmd([self.cli_bin, "keygen", "--host", "web-1", "--out", self.keys])
        self.assertEqual(rc, 1)
        self.assertIn("exists already", err)
        self.assertEqual(self.read(secret), before, "a key was replaced without --force")
        self.keygen("--host", "web-1", "--out", self.keys, "--force")
        self.assertNotEqual(self.read(secret), before)
        for bad in (["--host", "web 1", "--out", self.keys], ["--host", "x"],
                    ["--monitor", "--host", "x", "--out", self.keys], ["--bogus"]):
            rc, _, err = self.run_cmd([self.cli_bin, "keygen"] + bad)
            self.assertEqual(rc, 2, bad)
            self.assertEqual(len(err.strip().splitlines()), 1, err)


class ConfigTest(SecureCase):
    def check_monitor(self, text):
        path = self.write("m.cfg", text)
        return self.run_cmd([self.monitor_bin, "-c", path, "--check-config"])

    def test_monitor_keys_are_checked(self):
        rc, out, err = self.check_monitor("monitor\n    cert = %s\n    agents = %s\n"
                                          % (self.monitor_secret, self.agents))
        self.assertEqual(rc, 0, err)
        # A public certificate alone (zcert reads NAME_secret when it sits
        # next to NAME, so move it away from its secret).
        public = os.path.join(self.tmp, "public-only.cert")
        with open(self.monitor_public) as src, open(public, "w") as dst:
            dst.write(src.read())
        cases = [
            ("monitor\n    cert = %s\n" % self.monitor_secret, "monitor/cert: needs monitor/agents"),
            ("monitor\n    agents = %s\n" % self.agents, "monitor/agents: needs monitor/cert"),
            ("monitor\n    cert = %s\n    agents = %s\n" % (public, self.agents),
             "monitor/cert: \"%s\" holds no secret key" % public),
            ("monitor\n    cert = %s\n    agents = %s/nope\n" % (self.monitor_secret, self.agents),
             "monitor/agents: "),
            ("monitor\n    cert = %s/nope\n    agents = %s\n" % (self.keys, self.agents),
             "cannot be read as a certificate"),
        ]
        for text, expect in cases:
            rc, out, err = self.check_monitor(text)
            self.assertEqual(rc, 2, text)
            self.assertIn(expect, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_agent_keys_are_checked(self):
        secret, _ = self.agent_key("web-1")
        agent = zbtest.bin("zbeat-agent")

        def check(keys, name="web-1"):
            cfg = self.write("a.cfg", "agent\n    name = %s\n%s" % (name, keys))
            return self.run_cmd([agent, "-c", cfg, "--check-config"])
        rc, _, err = check("    cert = %s\n    monitor-cert = %s\n" % (secret, self.monitor_public))
        self.assertEqual(rc, 0, err)
        for keys, name, expect in [
                ("    cert = %s\n" % secret, "web-1", "agent/cert: needs agent/monitor-cert"),
                ("    monitor-cert = %s\n" % self.monitor_public, "web-1",
                 "agent/monitor-cert: needs agent/cert"),
                ("    cert = %s\n    monitor-cert = %s\n" % (secret, self.monitor_public),
                 "db-2", "agent/cert: the certificate is for host web-1, but this agent is db-2"),
                ("    cert = %s\n    monitor-cert = %s\n"
                 % (secret[:-len("_secret")] + ".nope", self.monitor_public), "web-1",
                 "agent/cert: "),
                ("    cert = %s\n    monitor-cert = %s/nope\n" % (secret, self.keys), "web-1",
                 "agent/monitor-cert: "),
        ]:
            rc, _, err = check(keys, name)
            self.assertEqual(rc, 2, keys)
            self.assertIn(expect, err)


class AdmissionTest(SecureCase):
    def test_admitted_agent_records_and_stranger_is_refused(self):
        redis = self.redis()
        web1, _ = self.agent_key("web-1")
        stranger, _ = self.agent_key("web-9", admit=False)
        monitor = self.start_secure_monitor()
        self.assertIn("CURVE on", monitor.output())
        self.assertNotIn("NO AUTHENTICATION", monitor.output())
        good = self.start_agent("web-1", web1, redis_service(redis.port))
        bad = self.start_agent("web-9", stranger, redis_service(redis.port))
        self.wait_state("web-1", "redis", "up", 15)
        # The stranger's connection is refused by ZAP, and the monitor says
        # so, naming the key.
        key = re.search(r'public-key = "([^"]+)"', self.read(stranger[:-len("_secret")]))[1]
        zbtest.wait_for(lambda: "refused a connection from 127.0.0.1: key %s" % key
                        in monitor.output(), 10, "the monitor logs the refused key")
        zbtest.wait_for(lambda: "refused our key" in bad.output(), 10,
                        "the refused agent logs it")
        # The admitted agent's outage is recorded; the stranger's never.
        redis.kill()
        self.wait_outages(lambda rows: service_outages(rows, "web-1", "redis"), 15,
                          "web-1/redis outage")
        # The stranger saw redis down too and tried to report it; then redis
        # comes back and web-1's outage closes: by then anything the
        # stranger got through would be recorded.
        zbtest.wait_for(lambda: re.search(r"redis: up -> down", bad.output()), 15,
                        "the stranger saw redis down")
        redis.restart()
        self.wait_outages(lambda rows: [r for r in service_outages(rows, "web-1", "redis")
                                        if r["ended_at"]], 15, "web-1/redis outage closed")
        self.assertEqual(set(self.hosts()), {"web-1"})
        self.assertEqual(self.outages("--host", "web-9"), [])
        self.assertTrue(good.alive() and bad.alive())
        stats = self.stop_monitor()
        self.assertEqual(stats["rejected"], 0)

    def test_wrong_monitor_key_is_a_failed_handshake(self):
        redis = self.redis()
        web1, _ = self.agent_key("web-1")
        self.keygen("--monitor", "--out", os.path.join(self.tmp, "other"))
        monitor = self.start_secure_monitor()
        self.start_agent("web-1", web1, redis_service(redis.port),
                         monitor_cert=os.path.join(self.tmp, "other", "monitor.cert"))
        zbtest.wait_for(lambda: "failed the handshake: cryptographic error" in monitor.output(),
                        10, "the monitor logs a failed handshake")
        self.assertEqual(self.hosts(), {})

    def test_plaintext_agent_cannot_reach_a_curve_monitor(self):
        redis = self.redis()
        monitor = self.start_secure_monitor()
        self.start_agent("web-1", None, redis_service(redis.port))
        zbtest.wait_for(lambda: "failed the handshake" in monitor.output(), 10,
                        "the monitor logs a failed handshake")
        self.assertEqual(self.hosts(), {})


class RevocationTest(SecureCase):
    def test_removed_key_stops_counting_on_the_open_connection_and_new_ones(self):
        """The guarantee (docs/security.md): within ZB_AUTH_RESCAN_MS (1 s) of
        the file's removal, no message signed with that key is recorded,
        whether it comes over the connection admitted before or a new one."""
        redis = self.redis()
        web1, listed = self.agent_key("web-1")
        monitor = self.start_monitor(["-c", self.monitor_config(), "--liveness", "3"])
        agent = self.start_agent("web-1", web1, redis_service(redis.port))
        self.wait_state("web-1", "redis", "up", 15)
        os.unlink(listed)
        zbtest.wait_for(lambda: "allow-list: revoked web-1" in monitor.output(), 5,
                        "the monitor notices the removal")
        revoked_at = time.monotonic()
        redis.kill()
        zbtest.wait_for(lambda: "redis: up -> down" in agent.output(), 15,
                        "the agent sees redis down and reports it")
        # Its beats are refused too, so the host falls silent: a host
        # outage, and no service outage for redis.
        rows = self.wait_outages(lambda rows: host_outages(rows, "web-1"), 15,
                                 "web-1 silent after its key was revoked")
        self.assertEqual(service_outages(rows, "web-1"), [])
        self.assertIn("refused a message for host web-1: its key", monitor.output())
        # Silent no later than liveness x beat after the revocation was seen
        # (plus the sweep and CLI lag): nothing after it counted.
        self.assertLess(time.monotonic() - revoked_at, 15 * zbtest.SLOW)
        # A new connection with the same key is refused at the handshake.
        agent.stop()
        refused = self.log_count(monitor, r"refused a connection")
        again = self.start_agent("web-1", web1, redis_service(redis.port), name="again")
        zbtest.wait_for(lambda: self.log_count(monitor, r"refused a connection") > refused or
                        "refused our key" in again.output(), 10, "the new connection refused")
        zbtest.wait_for(lambda: "refused our key" in again.output(), 10,
                        "the agent logs the refusal")
        self.assertEqual(service_outages(self.outages(), "web-1"), [])
        stats = self.stop_monitor()
        self.assertGreater(stats["rejected"], 0)


class ForgeryTest(SecureCase):
    def test_admitted_key_cannot_report_for_another_host(self):
        web1, _ = self.agent_key("web-1")
        monitor = self.start_secure_monitor()
        fake = CurveFake(self.endpoint, "web-1", web1, self.monitor_public)
        self.fakes.append(fake)
        fake.wait_subscribed()
        fake.set("redis", "up")
        forged = 0
        for host in ("web-2", "db-1", "web-1x"):
            fake.host = host
            fake.set("redis", "down")
            fake.beat()
            fake.event("redis", "down")
            forged += 2
        # Then a genuine message on the same connection: once it is recorded,
        # every forged one before it has been handled.
        fake.host = "web-1"
        fake.set("redis", "up")
        fake.set("marker", "up")
        fake.beat()
        self.wait_state("web-1", "marker", "up", 10)
        self.assertEqual(set(self.hosts()), {"web-1"})
        self.assertEqual(service_outages(self.outages()), [])
        self.assertIn("refused a message for host web-2 from the key of web-1", monitor.output())
        stats = self.stop_monitor()
        self.assertEqual(stats["rejected"], forged)


if __name__ == "__main__":
    zbtest.main()
