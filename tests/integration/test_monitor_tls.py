"""A TLS probe's certificate expiry end to end: a real agent probes a real
nginx with a certificate the test makes; the monitor keeps the expiry
(schema 6), `zbeat status` shows it (text and JSON) and /metrics exports
zbeat_tls_cert_expiry_timestamp_seconds{host,service}."""

import calendar
import os
import time
import unittest

import zbtest
from agent_helpers import agent_config
from http_helpers import HttpCase, check_metrics_text, sample
from test_agent_tls import NGINX, nginx_conf, OPENSSL, HTTP_PING, make_cert, not_after


@unittest.skipUnless(NGINX and OPENSSL, "nginx and openssl are needed (scripts/deps.sh)")
class MonitorTlsTest(HttpCase):

    def test_status_and_metrics_show_the_certificate_expiry(self):
        cert, key = make_cert(self.tmp, "good")
        port = zbtest.free_port()
        conf = self.write("nginx.conf", nginx_conf(dir=self.tmp, port=port, cert=cert,
                                                           key=key, keepalive=1000,
                                                           keepalive_timeout="75s",
                                                           plain=zbtest.free_port()))
        self.start([NGINX, "-c", conf, "-p", self.tmp], "nginx")
        zbtest.wait_for(lambda: zbtest.port_open(port), 10, "nginx listening")
        self.start_http_monitor()
        path = self.write("agent.cfg", agent_config(self.endpoint, [
            ("web", dict(probe="127.0.0.1:%d" % port, tls="yes", **{"tls-verify": "no"},
                         **HTTP_PING)),
            ("plain", dict(probe="127.0.0.1:%d" % port))]))
        self.start([zbtest.bin("zbeat-agent"), "-c", path], "agent")
        expires = not_after(cert)

        def recorded():
            rows = self.status()
            web = rows.get(("test-host", "web"))
            return rows if web and web["state"] == "up" and web.get("tls_expires") else None
        rows = zbtest.wait_for(recorded, 15, "web up with its expiry in zbeat status --json")
        # JSON: RFC 3339 with milliseconds, as every time the CLI prints.
        self.assertEqual(rows[("test-host", "web")]["tls_expires"], expires[:-1] + ".000Z")
        self.assertNotIn("tls_expires", rows[("test-host", "plain")])

        rc, out, err = self.cli("status", "--all")  # web is up: not a problem
        self.assertEqual(rc, 0, err)
        line = [l for l in out.splitlines() if " web " in l][0]
        self.assertRegex(line, r"\[cert expires %s, in (29d|30d|29d23h)" % expires)

        m = check_metrics_text(self, self.get("/metrics").text())
        when = calendar.timegm(time.strptime(expires, "%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual(sample(m, "zbeat_tls_cert_expiry_timestamp_seconds", host="test-host",
                                service="web"), float(when))
        self.assertIsNone(sample(m, "zbeat_tls_cert_expiry_timestamp_seconds",
                                 host="test-host", service="plain"))


if __name__ == "__main__":
    zbtest.main()
