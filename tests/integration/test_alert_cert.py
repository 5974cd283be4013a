"""Certificate expiry alerts (issue 20) with real parts: a real zbeat-agent
probing a real nginx over TLS with certificates the test makes (openssl),
the monitor's webhook going to a test HTTP server and its alertmanager
channel to Debian's prometheus-alertmanager. A certificate within tls-warn
of its notAfter makes one cert-expiring alert; a restarted monitor does not
make it again; the certificate replaced by a long-lived one resolves it."""

import os
import time

import zbtest
from agent_helpers import agent_config
from monitor_helpers import AlertCase, WebhookReceiver, parse_rfc3339_ms
from test_agent_tls import HTTP_PING, NGINX, nginx_conf, OPENSSL, make_cert, not_after
from test_alert_alertmanager import AM_BIN, Alertmanager, notifications

DAY = 86400


def openssl_time(t):
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))


class CertAlertTest(AlertCase):

    def setUp(self):
        super().setUp()
        if not (NGINX and OPENSSL):
            self.skipTest("nginx and openssl are needed (scripts/deps.sh)")
        self.nginx_port = zbtest.free_port()
        self.nginx_proc = None

    def nginx(self, cert, key):
        """nginx on the test's TLS port, serving cert (restarted when it runs)."""
        if self.nginx_proc:
            self.nginx_proc.stop()
            zbtest.wait_for(lambda: not zbtest.port_open(self.nginx_port), 10, "nginx gone")
        directory = os.path.join(self.tmp, "nginx-%s" % os.path.basename(cert))
        os.mkdir(directory)
        conf = os.path.join(directory, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(dir=directory, port=self.nginx_port, cert=cert, key=key,
                                      keepalive=1000, keepalive_timeout="75s",
                                      plain=zbtest.free_port()))
        self.nginx_proc = self.start([NGINX, "-c", conf, "-p", directory],
                                     "nginx-%s" % os.path.basename(cert))
        zbtest.wait_for(lambda: zbtest.port_open(self.nginx_port), 10, "nginx listening")

    def start_agent(self):
        service = ("web", dict(probe="127.0.0.1:%d" % self.nginx_port, tls="yes", interval="1s",
                               timeout="800ms", **{"tls-verify": "no"}, **HTTP_PING))
        return self.start_agent_config(agent_config(self.endpoint, [service], "web-1", "250ms"),
                                       "agent")

    def cert_alerts(self, trigger="cert-expiring"):
        return [r for r in self.alerts() if r["trigger"] == trigger]

    def test_expiring_certificate_alerts_once_and_resolves_when_renewed(self):
        soon, soon_key = make_cert(self.tmp, "soon", openssl_time(time.time() - DAY),
                                   openssl_time(time.time() + 3 * DAY))
        hook = WebhookReceiver(self)
        channels = [("hook", {"webhook": hook.url, "backoff-max": "1s"})]
        am = None
        if os.path.exists(AM_BIN):
            am_hook = WebhookReceiver(self)
            am = Alertmanager(self, am_hook.url)
            channels.append(("am", {"alertmanager": am.url, "resend": "2s", "backoff-max": "1s"}))
        self.nginx(soon, soon_key)
        self.start_alerting(channels, tls_warn="14d")
        self.start_agent()
        self.wait_state("web-1", "web", "up", 15)

        rows = zbtest.wait_for(lambda: self.cert_alerts(), 15, "a cert-expiring alert")
        alert = rows[0]["alert"]
        self.assertEqual((alert["host"], alert["service"], alert["reason"]),
                         ("web-1", "web", "expiring"))
        self.assertEqual(alert["not_after"][:19], not_after(soon)[:19])
        self.assertEqual(alert["id"], "web-1/web/cert-%d/cert-expiring"
                         % parse_rfc3339_ms(alert["not_after"]))
        self.assertTrue(alert["summary"].startswith("CERTIFICATE EXPIRING web-1/web in 2 days")
                        or alert["summary"].startswith("CERTIFICATE EXPIRING web-1/web in 3 days"),
                        alert["summary"])
        zbtest.wait_for(lambda: [a for a in hook.alerts() if a["trigger"] == "cert-expiring"],
                        15, "the webhook's cert-expiring alert")
        if am:
            fired = zbtest.wait_for(lambda: am.alerts(), 20, "the alert in Alertmanager")[0]
            self.assertEqual(fired["labels"], {"alertname": "ZbeatCertExpiring", "host": "web-1",
                                               "service": "web", "severity": "warning",
                                               "zbeat_monitor": "zbeat"})
            zbtest.wait_for(lambda: notifications(am_hook, "firing"), 20, "AM's notification")

        # A restarted monitor knows the certificate was alerted: nothing new,
        # though beats keep saying it expires (the agent beats every 250 ms);
        # the renewal below is the marker that its ticks ran meanwhile.
        self.stop_monitor()
        self.start_alerting(channels, tls_warn="14d")
        self.wait_beating("web-1", 15)

        # Renewed: nginx restarted with a certificate valid for 30 days.
        good, good_key = make_cert(self.tmp, "renewed")
        self.nginx(good, good_key)
        rows = zbtest.wait_for(lambda: self.cert_alerts("resolved"), 20, "the resolved alert")
        resolved = rows[0]["alert"]
        self.assertEqual((resolved["resolves"], resolved["reason"], resolved["service"]),
                         ("cert-expiring", "renewed", "web"))
        self.assertEqual(resolved["not_after"], alert["not_after"])
        zbtest.wait_for(lambda: [a for a in hook.alerts() if a["trigger"] == "resolved"],
                        15, "the webhook's resolved alert")
        if am:
            zbtest.wait_for(lambda: not am.alerts(), 20, "resolved in Alertmanager")
            zbtest.wait_for(lambda: notifications(am_hook, "resolved"), 20, "AM's resolved")
            self.assertEqual(len(notifications(am_hook, "firing")), 1)
        # The long-lived certificate makes nothing more.
        self.assertEqual(len(self.cert_alerts()), 1)
        # (nginx's restart is a short outage of its own: down, recovered.)
        self.assertEqual([r["trigger"] for r in self.alerts() if r["service"] == "web" and
                          r["trigger"] in ("cert-expiring", "resolved")],
                         ["cert-expiring", "resolved"])
        self.stop_monitor()

    def test_window_and_off(self):
        soon, soon_key = make_cert(self.tmp, "soon", openssl_time(time.time() - DAY),
                                   openssl_time(time.time() + 3 * DAY))
        self.nginx(soon, soon_key)
        self.start_alerting(tls_warn="2d")  # 3 days left: outside
        self.start_agent()
        self.wait_state("web-1", "web", "up", 15)
        self.wait_beating("web-1", 15)
        self.assertEqual(self.alerts(), [])
        # The window widened (a restart with tls-warn = 4d): it fires.
        self.stop_monitor()
        self.start_alerting(tls_warn="4d")
        zbtest.wait_for(lambda: self.cert_alerts(), 15, "a cert-expiring alert")
        # Turned off: what fires is resolved.
        self.stop_monitor()
        self.start_alerting(tls_warn="0")
        rows = zbtest.wait_for(lambda: self.cert_alerts("resolved"), 15, "resolved: tls-warn off")
        self.assertEqual(rows[0]["alert"]["reason"], "tls-warn off")
        self.assertEqual(len(self.cert_alerts()), 1)
        self.stop_monitor()


if __name__ == "__main__":
    zbtest.main()
