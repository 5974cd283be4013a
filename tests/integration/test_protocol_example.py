"""The Python subscriber printed in docs/protocol.md works against a real
agent: other tools can consume the stream."""

import os
import re

import zbtest


def extract_example():
    """The code block that follows the example-subscriber marker."""
    with open(os.path.join(zbtest.SOURCE_DIR, "docs", "protocol.md")) as f:
        text = f.read()
    m = re.search(r"<!-- example-subscriber -->\s*```python\n(.*?)```", text, re.S)
    assert m, "docs/protocol.md lost its example subscriber"
    return m.group(1)


class ProtocolExample(zbtest.TestCase):
    def test_example_subscriber_prints_events(self):
        agent_bin = zbtest.bin("zbeat-agent")
        code = extract_example()
        self.assertLessEqual(len([l for l in code.splitlines() if l.strip()]), 10)
        script = self.write("sub.py", code)
        port = zbtest.free_port()
        sub = self.start(["/usr/bin/python3", script, "tcp://127.0.0.1:%d" % port], "example")

        redis = self.redis()
        watch = self.sub()  # a second receiver, to know the agent's state
        cfg = self.write("agent.cfg", """agent
    name = example-host
    monitor = tcp://127.0.0.1:%d,%s
    beat = 200ms
service
    cache
        probe = 127.0.0.1:%d
        send = "PING\\r\\n"
        expect = "+PONG"
        interval = 1s
""" % (port, watch.endpoint, redis.port))
        self.start([agent_bin, "-c", cfg], "agent")
        # Events sent before the example's subscription reaches the agent are
        # lost (NOTES-zeromq), so kill redis until the example has seen one
        # down event; normally the first kill does it.
        down = re.compile(r"^example-host cache up -> down (refused|closed)$", re.M)
        for attempt in range(5):
            n = len(watch.messages())
            watch.wait(lambda m: zbtest.beat_state(m, "cache") == "up", 10, "cache up", start=n)
            redis.kill()
            try:
                zbtest.wait_for(lambda: down.search(sub.output()), 3, "the down event")
                break
            except AssertionError:
                redis.start()
        self.assertRegex(sub.output(), down)
        redis.start()
        zbtest.wait_for(lambda: re.search(r"^example-host cache down -> up ok$", sub.output(),
                                          re.M),
                        10, "the example to print the up event")


if __name__ == "__main__":
    zbtest.main()
