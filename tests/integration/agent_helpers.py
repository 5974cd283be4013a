"""Helpers shared by the test_agent_*.py integration tests."""

import os
import signal

import zbtest

REDIS_PING = {"send": '"PING\\r\\n"', "expect": '"+PONG"'}


def services_text(services):
    """ZPL lines under `service` for services: list of (name, {key: value});
    values go into the file verbatim (quote send/expect yourself)."""
    lines = []
    for name, keys in services:
        lines.append("    %s" % name)
        for key, value in keys.items():
            lines.append("        %s = %s" % (key, value))
    return "".join(line + "\n" for line in lines)


def agent_config(monitor, services, host="test-host", beat="200ms", listen=None, keys=()):
    """ZPL text for an agent: every test's. services: list of (name, {key:
    value}) (see services_text), or ZPL text already. listen: the push
    listener's endpoint, e.g. "tcp://127.0.0.1:7401". keys: more (key,
    value) pairs of the agent section (replay, journal, cert, ...)."""
    lines = ["agent", "    name = %s" % host, "    monitor = %s" % monitor]
    if beat:  # None: the agent's default
        lines.append("    beat = %s" % beat)
    if listen:
        lines.append("    listen = %s" % listen)
    lines.extend("    %s = %s" % kv for kv in keys)
    text = "\n".join(lines) + "\n"
    if services:
        if not isinstance(services, str):
            services = services_text(services)
        text += "service\n" + services
    return text


def redis_probe(port, interval, timeout, fails=None):
    """A "redis" service that PINGs a redis-server on 127.0.0.1:port."""
    keys = dict(REDIS_PING, probe="127.0.0.1:%d" % port, interval=interval, timeout=timeout)
    if fails is not None:
        keys["fails"] = fails
    return ("redis", keys)


class AgentCase(zbtest.TestCase):
    """A TestCase with a subscriber and an agent started against it."""

    def setUp(self):
        super().setUp()
        self.agent_bin = zbtest.bin("zbeat-agent")
        self.sub = self.sub()

    def start_agent(self, services, name="agent", beat="200ms", host="test-host", args=(),
                    listen=None):
        text = agent_config(self.sub.endpoint, services, host, beat, listen)
        return self.start_agent_config(text, name, args=["-v"] + list(args))

    def stop_agent(self, proc):
        """SIGTERM; the agent must exit 0."""
        rc = proc.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, "agent exit code after SIGTERM")

    def wait_event(self, service, to, timeout, start=0, host=None):
        return self.sub.wait(zbtest.is_event(service, to, host), timeout,
                             "event %s -> %s" % (service, to), start=start)

    def mark(self):
        """Index of the next message the subscriber will record."""
        return len(self.sub.messages())

    def wait_subscribed(self, timeout=10):
        """Waits for the first beat: from then on the subscription is in
        place and nothing the agent publishes is lost."""
        return self.sub.wait(lambda m: m["msg"].get("type") == "beat", timeout, "first beat")


def thread_names(pid):
    """The names (comm) of a process's threads."""
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            names.append(f.read().strip())
    return sorted(names)
