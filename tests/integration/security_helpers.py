"""Helpers for the test_security_*.py integration tests: key pairs made by
`zbeat keygen`, a monitor running with CURVE, real agents with or without
keys, and a CURVE-speaking fake agent (for forging)."""

import os
import re

import zmq
import zmq.auth

import zbtest
from agent_helpers import agent_config, redis_probe, services_text
from monitor_helpers import FakeAgent, MonitorCase


class CurveFake(FakeAgent):
    """A FakeAgent whose socket is a CURVE client with the given key files."""

    def __init__(self, endpoint, host, secret_cert, monitor_cert, interval_ms=1000):
        self.ctx = zmq.Context.instance()
        public, secret = zmq.auth.load_certificate(secret_cert)
        server, _ = zmq.auth.load_certificate(monitor_cert)
        sock = self.ctx.socket(zmq.XPUB)
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.curve_serverkey = server
        sock.setsockopt(zmq.LINGER, 2000)
        sock.connect(endpoint)
        # FakeAgent.__init__ would make a plaintext socket: set up by hand.
        self.sock = sock
        self.endpoint = endpoint
        self.host = host
        self.interval_ms = interval_ms
        import secrets
        self.instance = secrets.token_hex(8)
        self.seq = 0
        self.services = {}


class SecureCase(MonitorCase):
    """A monitor with monitor/cert and monitor/agents; keys under tmp/keys."""

    def setUp(self):
        super().setUp()
        self.keys = os.path.join(self.tmp, "keys")      # secrets, as on each host
        self.agents = os.path.join(self.tmp, "agents")  # the monitor's allow-list
        os.makedirs(self.agents)
        self.keygen("--monitor", "--out", self.keys)
        self.monitor_secret = os.path.join(self.keys, "monitor.cert_secret")
        self.monitor_public = os.path.join(self.keys, "monitor.cert")

    def keygen(self, *args):
        rc, out, err = self.run_cmd([self.cli_bin, "keygen"] + list(args))
        self.assertEqual(rc, 0, "zbeat keygen %s: %s" % (" ".join(args), err))
        return out

    def agent_key(self, host, admit=True):
        """A key pair for host; its public cert goes into the allow-list when
        admit. Returns (secret cert path, allow-list path or None)."""
        self.keygen("--host", host, "--out", self.keys)
        public = os.path.join(self.keys, host + ".cert")
        listed = None
        if admit:
            listed = os.path.join(self.agents, host + ".cert")
            with open(public) as src, open(listed, "w") as dst:
                dst.write(src.read())
        return os.path.join(self.keys, host + ".cert_secret"), listed

    def monitor_config(self, extra=""):
        return self.write("monitor.cfg",
                          "monitor\n"
                          "    cert = %s\n"
                          "    agents = %s\n%s" % (self.monitor_secret, self.agents, extra))

    def start_secure_monitor(self, name="monitor"):
        return self.start_monitor(["-c", self.monitor_config()], name)

    def start_agent(self, host, secret, services, name=None, monitor_cert=None, beat="200ms"):
        """A real zbeat-agent; services is ZPL text under `service`."""
        keys = ()
        if secret:
            keys = (("cert", secret), ("monitor-cert", monitor_cert or self.monitor_public))
        text = agent_config(self.endpoint, services, host, beat,
                            listen="tcp://127.0.0.1:%d" % zbtest.free_port(), keys=keys)
        return self.start_agent_config(text, name or "agent-" + host,
                                       cfg="agent-%s.cfg" % (name or host))

    def read(self, path):
        with open(path) as f:
            return f.read()

    def hosts(self):
        return {h["host"]: h for h in self.cli_json("hosts")} if os.path.exists(self.db) else {}

    def log_count(self, proc, pattern):
        return len(re.findall(pattern, proc.output()))


def redis_service(port, interval="200ms"):
    """ZPL text (start_agent takes services as text)."""
    return services_text([redis_probe(port, interval, "100ms", fails=2)])
