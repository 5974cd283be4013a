"""Certificate badges on the status page (issue 21) in a real headless
chromium: a real zbeat-agent probes two real nginx servers over TLS, one
with a certificate that expires in 3 days (within the monitor's tls-warn:
a badge with the days left), one valid for 30 days (a quiet mark whose
title says when it expires)."""

import os
import time

import zbtest
from agent_helpers import agent_config
from test_agent_tls import HTTP_PING, NGINX, nginx_conf, OPENSSL, make_cert
from test_http_page import PageCase

DAY = 86400


class HttpPageCertTest(PageCase):

    def setUp(self):
        if not (NGINX and OPENSSL):
            self.skipTest("nginx and openssl are needed (scripts/deps.sh)")
        super().setUp()

    def nginx(self, name, cert, key):
        port = zbtest.free_port()
        directory = os.path.join(self.tmp, "nginx-" + name)
        os.mkdir(directory)
        conf = os.path.join(directory, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(dir=directory, port=port, cert=cert, key=key,
                                      keepalive=1000, keepalive_timeout="75s",
                                      plain=zbtest.free_port()))
        self.start([NGINX, "-c", conf, "-p", directory], "nginx-" + name)
        zbtest.wait_for(lambda: zbtest.port_open(port), 10, "nginx listening")
        return port

    def badge(self, service):
        return self.driver.execute_script("""
            const r = document.querySelector(
                `.service[data-host="web-1"][data-service="${arguments[0]}"]`);
            const b = r && r.querySelector('.cert');
            return b ? {text: b.textContent, cls: b.className, title: b.title,
                        days: b.dataset.certDays} : null;
        """, service)

    def test_expiring_certificate_has_a_badge_with_the_days_left(self):
        fmt = lambda t: time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))
        soon = make_cert(self.tmp, "soon", fmt(time.time() - DAY), fmt(time.time() + 3 * DAY + 600))
        later = make_cert(self.tmp, "later")  # 30 days
        ports = {"shop": self.nginx("soon", *soon), "api": self.nginx("later", *later)}
        cfg = self.write("monitor.cfg", "monitor\n    tls-warn = 10d\n")
        self.start_http_monitor(["-c", cfg])
        services = [(name, dict(probe="127.0.0.1:%d" % port, tls="yes", interval="1s",
                                timeout="800ms", **{"tls-verify": "no"}, **HTTP_PING))
                    for name, port in ports.items()]
        self.start_agent_config(agent_config(self.endpoint, services, "web-1", "250ms"), "agent")
        self.wait_state("web-1", "shop", "up", 15)
        self.wait_state("web-1", "api", "up", 15)
        self.assertEqual(self.get_json("/api/v1/monitor")["tls_warn_s"], 10 * DAY)
        zbtest.wait_for(lambda: all("tls_expires" in s for s in self.get_json("/api/v1/status")
                                        if s["service"]),
                        15, "the certificates' expiry in /api/v1/status")

        self.driver.get("http://127.0.0.1:%d/?refresh=1" % self.http_port)
        shop = zbtest.wait_for(lambda: self.badge("shop"), 20, "shop's certificate badge")
        self.assertEqual(shop["text"], "cert 3d")
        self.assertIn("badge", shop["cls"])
        self.assertIn("expiring", shop["cls"])
        self.assertIn("certificate expires", shop["title"])
        api = zbtest.wait_for(lambda: self.badge("api"), 20, "api's certificate mark")
        self.assertEqual(api["text"], "cert")
        self.assertIn("quiet", api["cls"])
        self.assertNotIn("badge", api["cls"])
        self.assertIn(api["days"], ("29", "30"))
        self.assertIn("left)", api["title"])
        self.driver.save_screenshot(os.path.join(self.tmp, "page-cert.png"))
        self.stop_monitor()


if __name__ == "__main__":
    zbtest.main()
