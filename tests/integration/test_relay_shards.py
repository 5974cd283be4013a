"""Shards and zbeat-relay (docs/operations.md, "Growing past one monitor"):
real agents probing real redis servers, one real zbeat-relay, two real shard
monitors that each subscribe to their own hosts (monitor/hosts)."""

import json
import os
import re
import signal
import time

import zmq

import zbtest
from agent_helpers import agent_config
from monitor_helpers import FakeAgent, now_ms, service_outages
from security_helpers import CurveFake, SecureCase, redis_service


def wait_subscription(fake):
    """A shard subscribes to its hosts' topics, not to everything: waits for
    the first subscription to reach the fake agent's XPUB."""
    assert fake.sock.poll(10000 * zbtest.SLOW), "no subscription reached " + fake.host
    assert fake.sock.recv()[:1] == b"\x01"


class ShardCase(SecureCase):
    """Two shard monitors (A: web-*, B: db-*,mail-*) and a relay."""

    SHARDS = {"a": "web-*", "b": "db-*,mail-*"}

    def setUp(self):
        super().setUp()
        self.relay_bin = zbtest.bin("zbeat-relay")
        self.shard = {}
        for name in self.SHARDS:
            port = zbtest.free_port()
            self.shard[name] = {"db": os.path.join(self.tmp, "shard-%s.db" % name),
                                "endpoint": "tcp://127.0.0.1:%d" % port,
                                "agents": os.path.join(self.tmp, "agents-%s" % name)}
            os.makedirs(self.shard[name]["agents"])
        self.relay_endpoint = "tcp://127.0.0.1:%d" % zbtest.free_port()

    def start_shard(self, name, curve=False, extra=""):
        s = self.shard[name]
        text = "monitor\n    hosts = \"%s\"\n" % self.SHARDS[name]
        if curve:
            text += "    cert = %s\n    agents = %s\n" % (self.monitor_secret, s["agents"])
        cfg = self.write("shard-%s.cfg" % name, text + extra)
        proc = self.start([self.monitor_bin, "-c", cfg, "--db", s["db"], "--bind", s["endpoint"]],
                          "shard-" + name)
        zbtest.wait_for(lambda: "listening on" in proc.output() or not proc.alive(), 10,
                        "shard %s listening" % name)
        self.assertTrue(proc.alive(), proc.output())
        s["proc"] = proc
        return proc

    def start_relay(self, text=""):
        cfg = self.write("relay.cfg", "relay\n    bind = %s\n    monitor = \"%s\"\n%s"
                         % (self.relay_endpoint,
                            ",".join(self.shard[n]["endpoint"] for n in sorted(self.shard)), text))
        proc = self.start([self.relay_bin, "-c", cfg], "relay")
        zbtest.wait_for(lambda: "relay started" in proc.output() or not proc.alive(), 10,
                        "relay started")
        self.assertTrue(proc.alive(), proc.output())
        return proc

    def start_relayed_agent(self, host, port, keys=()):
        text = agent_config(self.relay_endpoint, redis_service(port), host, "200ms",
                            listen="tcp://127.0.0.1:%d" % zbtest.free_port(), keys=keys)
        return self.start_agent_config(text, "agent-" + host)

    def shard_hosts(self, name):
        rc, out, err = self.cli("hosts", "--json", db=self.shard[name]["db"])
        self.assertEqual(rc, 0, err)
        return {h["host"] for h in json.loads(out)}

    def shard_outages(self, name):
        rc, out, err = self.cli("outages", "--json", db=self.shard[name]["db"])
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def wait_shard_outage(self, name, host, timeout=20):
        return zbtest.wait_for(
            lambda: os.path.exists(self.shard[name]["db"]) and
            service_outages(self.shard_outages(name), host, "redis"),
            timeout, "shard %s records the %s/redis outage" % (name, host))

    def stop_shard(self, name):
        proc = self.shard[name]["proc"]
        self.assertEqual(proc.stop(signal.SIGTERM), 0, "shard %s exit code" % name)
        return self.stats(proc)


class RelayShardTest(ShardCase):
    def test_each_shard_holds_only_its_hosts(self):
        redis = {h: self.redis() for h in ("web-1", "db-1", "mail-1")}
        self.start_shard("a")
        self.start_shard("b")
        relay = self.start_relay()
        self.assertIn("relay started (plaintext)", relay.output())
        for host, server in redis.items():
            self.start_relayed_agent(host, server.port)
        self.wait_states("web-1", {"redis": "up"}, 20, db=self.shard["a"]["db"])
        self.wait_states("db-1", {"redis": "up"}, 20, db=self.shard["b"]["db"])
        self.wait_states("mail-1", {"redis": "up"}, 20, db=self.shard["b"]["db"])
        # A killed service is recorded by its own shard only.
        redis["db-1"].kill()
        self.wait_shard_outage("b", "db-1")
        redis["web-1"].kill()
        self.wait_shard_outage("a", "web-1")
        self.assertEqual(self.shard_hosts("a"), {"web-1"})
        self.assertEqual(self.shard_hosts("b"), {"db-1", "mail-1"})
        self.assertEqual({r["host"] for r in self.shard_outages("a")}, {"web-1"})
        self.assertEqual({r["host"] for r in self.shard_outages("b")}, {"db-1"})
        # Filtered upstream: nothing of another shard's hosts reached either.
        self.assertEqual(self.stop_shard("a")["foreign"], 0)
        self.assertEqual(self.stop_shard("b")["foreign"], 0)
        self.assertEqual(relay.stop(signal.SIGTERM), 0)
        m = re.search(r"relay stopped: forwarded=(\d+)", relay.output())
        self.assertTrue(m and int(m[1]) > 0, relay.output())

    def test_bad_config_exits_2_with_one_line(self):
        for text, expect in [
                ("relay\n    monitor = localhost\n", "relay/monitor: \"localhost\" is not an"),
                ("relay\n    bind = tcp://*:7410\n", "relay/monitor: no monitor to relay to"),
                ("relay\n    monitor = tcp://127.0.0.1:1\n    hosts = web-*\n",
                 "relay/hosts: unknown key"),
                ("relay\n    monitor = tcp://127.0.0.1:1\n    cert = %s\n    agents = %s\n"
                 % (self.monitor_secret, self.agents), "relay/cert: needs relay/monitor-cert")]:
            cfg = self.write("bad-relay.cfg", text)
            rc, _, err = self.run_cmd([self.relay_bin, "-c", cfg, "--check-config"])
            self.assertEqual(rc, 2, text)
            self.assertIn(expect, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        cfg = self.write("m.cfg", "monitor\n    hosts = web-*-eu\n")
        rc, _, err = self.run_cmd([self.monitor_bin, "-c", cfg, "--check-config"])
        self.assertEqual(rc, 2)
        self.assertIn("monitor/hosts: \"web-*-eu\": only a trailing * is allowed", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)


class RelayStreamTest(ShardCase):
    def test_a_fast_stream_passes_whole_and_in_order(self):
        """From 5,000 messages a second the relay takes agents' messages in
        rounds (zb_pace): 40,000 at about 50,000 a second, through it to a
        bound SUB in place of a shard, arrive every one and in order, and a
        one-frame message among them is dropped and counted."""
        ctx = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.LINGER, 0)
        sub.bind(self.shard["a"]["endpoint"])
        sub.setsockopt(zmq.SUBSCRIBE, b"beat.web-")
        self.addCleanup(sub.close)
        relay = self.start_relay()
        pub = ctx.socket(zmq.XPUB)
        pub.setsockopt(zmq.SNDHWM, 0)
        pub.setsockopt(zmq.LINGER, 0)
        pub.connect(self.relay_endpoint)
        self.addCleanup(pub.close)
        # The subscription reaches the agent's side only while the bound SUB
        # is polled (NOTES-zeromq): poll both until it has.
        def subscribed():
            sub.poll(10)
            return pub.poll(10) and pub.recv()[:1] == b"\x01"
        zbtest.wait_for(subscribed, 10, "the SUB's subscription through the relay")
        count = 40000
        for i in range(count):
            pub.send_multipart([b"beat.web-1", b"%d" % i])
            if i == count // 2:
                pub.send(b"beat.web-1")  # one frame: not a message
            if i % 1000 == 999:
                time.sleep(0.02)  # shapes the load (about 50,000 a second), not a wait
        got = []
        deadline = time.monotonic() + 30 * zbtest.SLOW
        while len(got) < count and time.monotonic() < deadline:
            if sub.poll(100):
                topic, body = sub.recv_multipart()
                self.assertEqual(topic, b"beat.web-1")
                got.append(int(body))
        self.assertEqual(got, list(range(count)))
        self.assertEqual(relay.stop(signal.SIGTERM), 0)
        m = re.search(r"relay stopped: forwarded=(\d+) refused=(\d+) malformed=(\d+)",
                      relay.output())
        self.assertTrue(m, relay.output())
        self.assertEqual((int(m[1]), int(m[3])), (count, 1))


class ForeignTest(ShardCase):
    SHARDS = {"a": "mail-1"}

    def test_foreign_hosts_are_counted_and_dropped_live_and_in_replay(self):
        """A name subscribes to its prefix: mail-10's messages reach the
        mail-1 shard, which drops them; replayed ones are acked, not applied."""
        replay = "tcp://127.0.0.1:%d" % zbtest.free_port()
        self.start_shard("a", extra="    replay = %s\n" % replay)
        self.endpoint = self.shard["a"]["endpoint"]
        # Long intervals: mail-1 silent would show its services unknown.
        mine = self.fake("mail-1", interval_ms=3600000, subscribed=False)
        other = self.fake("mail-10", interval_ms=3600000, subscribed=False)
        for fake in (mine, other):
            wait_subscription(fake)
        other.set("redis", "up")
        other.beat()
        mine.set("redis", "up")
        mine.beat()
        self.wait_states("mail-1", {"redis": "up"}, 15, db=self.shard["a"]["db"])
        dealer = zmq.Context.instance().socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(replay)
        try:
            for agent in (other, mine):
                sent = agent.event("web", "down", live=False)
                dealer.send_multipart([b"EVENT"] + sent["frames"])
                self.assertTrue(dealer.poll(10000 * zbtest.SLOW), "no ACK for " + agent.host)
                ack = dealer.recv_multipart()
                self.assertEqual(ack, [b"ACK", agent.instance.encode(),
                                       str(sent["seq"]).encode()])
        finally:
            dealer.close()
        self.wait_states("mail-1", {"web": "down"}, 15, db=self.shard["a"]["db"])
        self.assertEqual(self.shard_hosts("a"), {"mail-1"})
        stats = self.stop_shard("a")
        self.assertGreaterEqual(stats["foreign"], 2)
        self.assertIn("outside monitor/hosts", self.shard["a"]["proc"].output())


class CurveRelayTest(ShardCase):
    def test_relay_checks_keys_and_monitors_trust_it_for_its_hosts(self):
        redis = self.redis()
        # The relay's key: the relay's allow-list holds the agents' keys;
        # each shard's holds the relay's, narrowed to what it trusts it for
        # (shard a: web-1 only, though it subscribes to web-*).
        self.keygen("--relay", "*", "--out", self.keys)
        relay_public = self.read(os.path.join(self.keys, "relay.cert"))
        self.assertIn('relay = "*"', relay_public)
        for name, trusted in (("a", "web-1"), ("b", "db-*,mail-*")):
            with open(os.path.join(self.shard[name]["agents"], "relay.cert"), "w") as f:
                f.write(relay_public.replace('relay = "*"', 'relay = "%s"' % trusted))
        keys = {h: self.agent_key(h)[0] for h in ("web-1", "web-2", "db-1")}
        self.start_shard("a", curve=True)
        self.start_shard("b", curve=True)
        relay = self.start_relay("    cert = %s\n    agents = %s\n    monitor-cert = %s\n"
                                 % (os.path.join(self.keys, "relay.cert_secret"), self.agents,
                                    self.monitor_public))
        self.assertIn("CURVE", relay.output())
        # Agents talk to the relay: its public key is their monitor-cert.
        relay_cert = os.path.join(self.keys, "relay.cert")
        for host, secret in keys.items():
            self.start_relayed_agent(host, redis.port,
                                     keys=(("cert", secret), ("monitor-cert", relay_cert)))
        self.wait_states("web-1", {"redis": "up"}, 20, db=self.shard["a"]["db"])
        self.wait_states("db-1", {"redis": "up"}, 20, db=self.shard["b"]["db"])
        # web-1's key claiming db-1: the relay refuses it.
        forger = CurveFake(self.relay_endpoint, "db-1", keys["web-1"], relay_cert)
        self.fakes.append(forger)
        wait_subscription(forger)
        forger.set("forged", "down")
        zbtest.wait_for(lambda: forger.beat() and
                        "refused a message for host db-1 from the key of web-1" in relay.output(),
                        10, "the relay refuses the forged host")
        # web-2 is the relay's to pass, but shard a trusts the relay for
        # web-1 only: it refuses web-2's messages.
        zbtest.wait_for(lambda: "refused a message for host web-2 from the key of a relay"
                        in self.shard["a"]["proc"].output(), 15, "shard a refuses web-2")
        # A later change of db-1 is recorded: the forged beats before it
        # had every chance to arrive, and none counted.
        redis.kill()
        self.wait_shard_outage("b", "db-1")
        self.assertNotIn(("db-1", "forged"), {(r["host"], r["service"]) for r in
                                              json.loads(self.cli("status", "--json",
                                                                  db=self.shard["b"]["db"])[1])})
        self.assertEqual(self.shard_hosts("a"), {"web-1"})
        self.assertEqual(self.shard_hosts("b"), {"db-1"})
        self.assertGreater(self.stop_shard("a")["rejected"], 0)
        self.assertEqual(relay.stop(signal.SIGTERM), 0)
        m = re.search(r"relay stopped: forwarded=(\d+) refused=(\d+)", relay.output())
        self.assertTrue(m and int(m[1]) > 0 and int(m[2]) > 0, relay.output())


if __name__ == "__main__":
    zbtest.main()
