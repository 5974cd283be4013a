"""zbeat-agent against a real redis-server: up, a SIGKILL seen well under one
probe interval, and up again after a restart."""

import subprocess
import time

import zbtest
from agent_helpers import REDIS_PING, AgentCase


class AgentRedisTest(AgentCase):

    def test_kill_and_restart(self):
        redis = self.redis()
        interval = 2.0
        agent = self.start_agent([("redis", dict(REDIS_PING, probe="127.0.0.1:%d" % redis.port,
                                                   interval="2s", timeout="500ms", fails=3))])
        self.wait_subscribed()
        # The first verdict may be lost with the first messages (before the
        # subscription arrived): the beats say up either way.
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "redis") == "up", 10, "a beat with redis up")
        beat = self.sub.beats()[-1]["msg"]
        svc = beat["services"][0]
        self.assertEqual(svc["kind"], "probe")
        self.assertEqual(svc["reason"], "ok")
        self.assertIsInstance(svc["rtt_us"], int)
        self.assertGreater(svc["rtt_us"], 0)

        # The kill lands somewhere inside a 2 s interval; only the held
        # connection can reveal it within a fraction of that.
        start = self.mark()
        redis.kill()  # returns when redis is gone
        after = time.time()
        down = self.wait_event("redis", "down", 10, start=start)
        # By the agent's clock (at_ms), not this process's reader thread.
        delay = zbtest.at_s(down) - after
        self.assertIn(down["msg"]["reason"], ("refused", "closed"))
        self.assertEqual(down["msg"]["from"], "up")
        self.assertLess(delay, interval / 2,
                        "down seen %.3fs after the kill; interval is %.1fs" % (delay, interval))

        # Beats agree while it is down.
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "redis") == "down", 5, "a beat with redis down",
                      start=start)

        start = self.mark()
        redis.start()  # returns when redis accepts
        after = time.time()
        up = self.wait_event("redis", "up", 10, start=start)
        self.assertEqual(up["msg"]["from"], "down")
        self.assertEqual(up["msg"]["reason"], "ok")
        # While down, reconnects back off but never wait longer than one
        # interval: up comes within an interval (plus slack) of the restart,
        # by the agent's clock; an uncapped backoff would be 4 s or more.
        self.assertLess(zbtest.at_s(up) - after, interval + 1.0 * zbtest.SLOW)
        self.stop_agent(agent)

    def clients(self, redis):
        """redis's CLIENT LIST: one dict per connection, the redis-cli asking
        included (cmd=client|list)."""
        out = subprocess.run(["redis-cli", "-p", str(redis.port), "CLIENT", "LIST"],
                             capture_output=True, check=True).stdout.decode()
        return [dict(f.split("=", 1) for f in line.split() if "=" in f)
                for line in out.splitlines()]

    def pinging(self, redis):
        """The ids of the connections whose last command was a PING: the held
        one. A held probe also connects afresh beside its pings to see that
        the listener is still there (and closes that at once): those send
        nothing (cmd=NULL) and are left out."""
        return [c["id"] for c in self.clients(redis) if c.get("cmd") == "ping"]

    def test_redis_closes_idle_connection(self):
        """redis's `CLIENT KILL` closes our connection while it is idle: the
        agent reconnects at once and the service stays up (no event)."""
        redis = self.redis()
        agent = self.start_agent([("redis", dict(REDIS_PING, probe="127.0.0.1:%d" % redis.port,
                                                   interval="1s"))])
        self.wait_subscribed()
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "redis") == "up", 10, "a beat with redis up")
        def one_pinging():
            ids = self.pinging(redis)
            return ids if len(ids) == 1 else None
        held = zbtest.wait_for(one_pinging, 5, "one connection that pinged")[0]
        start = self.mark()
        # Killed by its id: a listener check beside a ping may be connected
        # at the same moment, and is no idle connection of ours.
        out = subprocess.run(["redis-cli", "-p", str(redis.port), "CLIENT", "KILL", "ID", held],
                             capture_output=True, check=True)
        self.assertEqual(out.stdout.strip(), b"1", out)
        # Let at least two pings go by (12 beats of 200 ms): every beat must
        # say up and no event may appear.
        zbtest.wait_for(lambda: len(self.sub.messages()) - start >= 12, 10, "12 more messages")
        after = self.sub.messages()[start:]
        self.assertEqual([m for m in after if m["msg"]["type"] == "event"], [])
        for m in after:
            self.assertEqual(zbtest.beat_state(m, "redis"), "up")
        # ... and the agent did reconnect: another connection pings.
        zbtest.wait_for(lambda: [i for i in self.pinging(redis) if i != held], 5,
                        "the agent connected again")
        self.assertNotIn(held, self.pinging(redis))
        self.assertIn("connection closed by peer", agent.output())
        self.stop_agent(agent)


if __name__ == "__main__":
    zbtest.main()
