"""zbeat-agent with 1,000 services against one test server: all up, one
held connection each (the pinged ones: each probe also connects afresh
beside its pings and closes at once), and no thread per service."""

import zbtest
from agent_helpers import AgentCase, thread_names

COUNT = 1000
PING = {"send": '"PING\\r\\n"', "expect": '"+PONG"'}


class AgentScaleTest(AgentCase):

    def test_thousand_services(self):
        server = zbtest.TcpServer(self)
        services = [("svc-%04d" % i, dict(PING, probe="127.0.0.1:%d" % server.port,
                                          interval="1s", timeout="500ms"))
                    for i in range(COUNT)]
        agent = self.start_agent(services, beat="500ms")

        def all_up():
            beats = self.sub.beats()
            if not beats:
                return None
            states = [s["state"] for s in beats[-1]["msg"]["services"]]
            return len(states) == COUNT and all(s == "up" for s in states) and beats[-1]
        beat = zbtest.wait_for(all_up, 20, "a beat with all %d services up" % COUNT)
        names = [s["name"] for s in beat["msg"]["services"]]
        self.assertEqual(names, [name for name, _ in services])
        self.assertEqual(server.held_connections(), COUNT)

        # The agent's threads: its own one, plus libzmq's I/O thread and
        # reaper ("ZMQbg/IO/0", "ZMQbg/Reaper"; czmq starts none for a
        # plain PUB). A thread per service would be a thousand.
        names = thread_names(agent.pid)
        self.assertLessEqual(len(names), 3, names)
        self.assertEqual([n for n in names if not n.startswith("ZMQbg/")], ["zbeat-agent"])

        # Pings keep flowing: a few more beats, every service still up and
        # nothing went down meanwhile.
        start = self.mark()
        zbtest.wait_for(lambda: len([m for m in self.sub.messages()[start:]
                                     if m["msg"]["type"] == "beat"]) >= 4, 10, "4 more beats")
        self.assertTrue(all_up())
        self.assertEqual([m for m in self.sub.messages()[start:] if m["msg"]["type"] == "event"],
                         [])
        self.assertEqual(server.held_connections(), COUNT)
        self.stop_agent(agent)


if __name__ == "__main__":
    zbtest.main()
