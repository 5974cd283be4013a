"""CURVE on the journal replay channel (docs/security.md): the replay ROUTER
admits the same keys as the agents' SUB socket, binds each to its host,
and an agent whose key is admitted later gets in, PUB and replay, without
a restart. Real monitor, real agents, keys made by `zbeat keygen`."""

import os
import re
import shutil
import signal

import zmq
import zmq.auth

import zbtest
from fault_helpers import journal_events, wait_journal_in_db
from monitor_helpers import FakeAgent
from security_helpers import SecureCase


class ReplayCase(SecureCase):
    """A CURVE monitor with monitor/replay; agents with keys, a journal and
    agent/replay."""

    def setUp(self):
        super().setUp()
        self.replay = "tcp://127.0.0.1:%d" % zbtest.free_port()

    def start_replaying_monitor(self, name="monitor"):
        cfg = self.monitor_config("    replay = %s\n" % self.replay)
        return self.start_monitor(["-c", cfg], name)

    def journal(self, host):
        return os.path.join(self.tmp, "journal-" + host)

    def start_replaying_agent(self, host, secret, services, name=None):
        """services: {name: port}; connection-only probes every 100 ms, down
        after one failure."""
        lines = ["agent", "    name = %s" % host, "    monitor = %s" % self.endpoint,
                 "    beat = 200ms", "    replay = %s" % self.replay,
                 "    journal = %s" % self.journal(host),
                 "    listen = tcp://127.0.0.1:%d" % zbtest.free_port(),
                 "    cert = %s" % secret, "    monitor-cert = %s" % self.monitor_public,
                 "service"]
        for svc, port in services.items():
            lines += ["    %s" % svc, "        probe = 127.0.0.1:%d" % port,
                      "        interval = 100ms", "        fails = 1"]
        cfg = self.write("agent-%s.cfg" % (name or host), "\n".join(lines) + "\n")
        return self.start([zbtest.bin("zbeat-agent"), "-c", cfg], name or "agent-" + host)

    def wait_transition(self, host, service, to, after=0, timeout=10):
        """Until host's journal records service -> to after index `after`;
        returns the journal's length then."""
        def seen():
            events = journal_events(self.journal(host))
            for e in events[after:]:
                if e.get("service") == service and e.get("to") == to:
                    return len(events)
            return None
        return zbtest.wait_for(seen, timeout, "%s journal: %s -> %s" % (host, service, to))

    def wait_db_matches_journal(self, host, timeout=20):
        return wait_journal_in_db(
            self.journal(host), host, lambda: self.outages() if os.path.exists(self.db) else [],
            timeout, "%s: database outages match the journal" % host)


class CurveReplayTest(ReplayCase):
    def test_listed_key_replays_what_a_killed_monitor_missed(self):
        server = zbtest.TcpServer(self)
        web1, _ = self.agent_key("web-1")
        monitor = self.start_replaying_monitor()
        self.assertNotIn("NO AUTHENTICATION", monitor.output())
        agent = self.start_replaying_agent("web-1", web1, {"redis": server.port})
        self.wait_state("web-1", "redis", "up", 15)
        zbtest.wait_for(lambda: re.search(r"replay .*: journal of \d+ transitions acknowledged",
                                          agent.output()), 15, "the journal acknowledged")

        # The outage begins and ends while no monitor runs: only the journal,
        # replayed over CURVE, can bring it.
        self.monitor.stop(signal.SIGKILL)
        mark = len(journal_events(self.journal("web-1")))
        server.set_mode("refuse")
        n = self.wait_transition("web-1", "redis", "down", mark)
        server.set_mode("answer")
        self.wait_transition("web-1", "redis", "up", n)

        monitor = self.start_replaying_monitor(name="monitor2")
        want = self.wait_db_matches_journal("web-1")
        self.assertEqual(len(want["redis"]), 1)
        self.assertIsNotNone(want["redis"][0][1])
        self.assertRegex(monitor.output(), r"admitted web-1 \(key")
        self.assertNotIn("refused a", monitor.output())
        stats = self.stop_monitor()
        self.assertEqual(stats["rejected"], 0)
        self.assertEqual(stats["db_errors"], 0)

    def test_unlisted_key_gets_nothing_in(self):
        server = zbtest.TcpServer(self)
        stranger, _ = self.agent_key("web-9", admit=False)
        monitor = self.start_replaying_monitor()
        agent = self.start_replaying_agent("web-9", stranger, {"redis": server.port})
        # A transition in its journal, offered over replay and refused.
        server.set_mode("refuse")
        self.wait_transition("web-9", "redis", "down")
        key = re.search(r'public-key = "([^"]+)"',
                        self.read(stranger[:-len("_secret")]))[1]
        # Both of its connections are refused at the handshake (counted in
        # the "N refused in all" of the monitor's log).
        zbtest.wait_for(lambda: "monitor (replay) refused our key: %s" % self.replay
                        in agent.output(), 10, "the replay DEALER refused")
        zbtest.wait_for(lambda: "monitor refused our key: %s" % self.endpoint
                        in agent.output(), 10, "the PUB socket refused")
        self.assertIn("refused a connection from 127.0.0.1: key %s" % key, monitor.output())
        self.assertRegex(monitor.output(), r"refused a connection .*\(\d+ refused in all")
        self.assertEqual(self.hosts(), {})
        self.assertEqual(self.outages(), [])
        stats = self.stop_monitor()
        self.assertNotIn("transitions applied", monitor.output())
        self.assertEqual(stats["messages"], 0)

    def test_listed_key_cannot_replay_for_another_host(self):
        web1, _ = self.agent_key("web-1")
        monitor = self.start_replaying_monitor()
        # A real web-1 first, so that web-1 and web-2 are both known hosts
        # (a STATUS for an unknown host is ignored anyway).
        ctx = zmq.Context.instance()
        dealer = ctx.socket(zmq.DEALER)
        public, secret = zmq.auth.load_certificate(web1)
        server_key, _ = zmq.auth.load_certificate(self.monitor_public)
        dealer.curve_publickey, dealer.curve_secretkey = public, secret
        dealer.curve_serverkey = server_key
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(self.replay)
        self.addCleanup(dealer.close)
        fake = FakeAgent(self.endpoint, "web-1")  # only makes messages: never sent live
        self.fakes.append(fake)
        forged = []
        for host in ("web-2", "db-1"):
            fake.host = host
            m = fake.event("redis", "down", live=False)
            dealer.send_multipart([b"EVENT"] + m["frames"])
            dealer.send_multipart([b"STATUS", host.encode(), fake.instance.encode(), b"7"])
            forged.append(m)
        # Then a genuine one on the same connection: once it is acknowledged,
        # the forged ones before it have been handled, and none was.
        fake.host = "web-1"
        good = fake.event("redis", "down", live=False)
        dealer.send_multipart([b"EVENT"] + good["frames"])
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        acks = []

        def acked():
            while poller.poll(20):
                acks.append(dealer.recv_multipart())
            return [a for a in acks if a[2] == str(good["seq"]).encode()]
        zbtest.wait_for(acked, 10, "the genuine event acknowledged")
        self.assertEqual([a[2] for a in acks], [str(good["seq"]).encode()])
        self.assertEqual(set(self.hosts()), {"web-1"})
        self.assertEqual([(r["host"], r["service"]) for r in self.outages()], [("web-1", "redis")])
        self.assertIn("refused a message for host web-2 from the key of web-1", monitor.output())
        stats = self.stop_monitor()
        self.assertEqual(stats["rejected"], 4)  # two events, two reports
        self.assertIn("1 transitions applied, 0 duplicates, 4 refused", monitor.output())

    def test_key_admitted_later_gets_in_without_a_restart(self):
        server = zbtest.TcpServer(self)
        web1, _ = self.agent_key("web-1", admit=False)
        monitor = self.start_replaying_monitor()
        agent = self.start_replaying_agent("web-1", web1, {"redis": server.port})
        # While refused, the service goes down: only replay can bring the
        # moment it did.
        server.set_mode("refuse")
        self.wait_transition("web-1", "redis", "down")
        for what in ("monitor", r"monitor \(replay\)"):
            zbtest.wait_for(lambda: re.search(what + " refused our key", agent.output()), 10,
                            what + " refused")
        self.assertEqual(self.hosts(), {})
        # Admitted: both sockets get in at their next retry, no restart.
        shutil.copy(web1[:-len("_secret")], os.path.join(self.agents, "web-1.cert"))
        zbtest.wait_for(lambda: "allow-list: admitted web-1" in monitor.output(), 5,
                        "the monitor reads the new key")
        for what in ("monitor", r"monitor \(replay\)"):
            zbtest.wait_for(lambda: re.search(what + r" admitted our key: .*attempt",
                                              agent.output()), 15, what + " admitted")
        self.wait_state("web-1", "redis", "down", 10)  # PUB: beats are recorded
        want = self.wait_db_matches_journal("web-1")   # replay: the agent's own start time
        self.assertIsNone(want["redis"][0][1])
        self.assertTrue(agent.alive())
        # Logged once per refusal streak, not once per retry.
        self.assertEqual(len(re.findall(r"monitor refused our key", agent.output())), 1)
        self.assertEqual(len(re.findall(r"monitor \(replay\) refused our key", agent.output())), 1)
        stats = self.stop_monitor()
        self.assertEqual(stats["rejected"], 0)


if __name__ == "__main__":
    zbtest.main()
