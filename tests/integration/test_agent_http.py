"""HTTP checks against a real nginx: `check = https` and `http = METHOD
PATH` over TLS and in the clear, keep-alive on the held connection (nginx's
keepalive_requests and keepalive_timeout close it: no false down),
expect-status and expect-body failing when they should, --probe-once."""

import os
import signal
import subprocess
import time
import unittest

import zbtest
from test_agent_tls import NGINX, OPENSSL, TlsCase

NO_VERIFY = {"tls-verify": "no"}


def access_lines(directory):
    """(connection, request number on it, status) per request nginx logged."""
    try:
        with open(os.path.join(directory, "access.log")) as f:
            return [tuple(int(x) for x in l.split()) for l in f if l.strip()]
    except FileNotFoundError:
        return []


@unittest.skipUnless(NGINX and OPENSSL, "nginx and openssl are needed (scripts/deps.sh)")
class HttpTest(TlsCase):

    def downs(self, timeouts=True):
        """Down events; timeouts=False leaves out reason timeout (a loaded
        machine can stall a response past a short timeout: that is not
        what the keep-alive tests are about)."""
        return [m for m in self.sub.events() if m["msg"]["to"] == "down" and
                (timeouts or m["msg"]["reason"] != "timeout")]

    def test_https_up_and_a_kill_is_down_at_once(self):
        port = self.nginx()
        # A long interval for web: only its held connection can see the
        # stop in time.
        agent = self.start_agent([("web", dict(probe="127.0.0.1:%d" % port, check="https",
                                                interval="30s", **NO_VERIFY)),
                                  ("plain", dict(probe="127.0.0.1:%d" % self.plain_port,
                                                 http="GET /", **{"expect-body": '"plain ok"'}))])
        web = self.beat_with("web", lambda s: s["state"] == "up", what="web up")
        self.assertIn("tls_expires", web)
        self.beat_with("plain", lambda s: s["state"] == "up", what="plain up")
        start = self.mark()
        t_stop = time.time()
        # Fast shutdown: the master takes its worker along.
        self.nginx_proc.send_signal(signal.SIGTERM)
        down = self.wait_event("web", "down", 10, start=start)
        # The reconnect after the EOF either finds the port closed or is
        # reset by the closing listener (it was queued there): both refused.
        self.assertEqual(down["msg"]["reason"], "refused")
        # By the agent's clock, within a third of the interval: the next
        # check (about 30 s after the first) cannot have seen it; how soon
        # is bench/'s goal, not this test's.
        self.assertLess(zbtest.at_s(down) - t_stop, 10,
                        "down %.3fs after the stop" % (zbtest.at_s(down) - t_stop))
        self.stop_agent(agent)

    def test_keepalive_requests_close_the_connection_without_a_false_down(self):
        # nginx closes the connection after every 5th request (Connection:
        # close on the 5th response): 100 requests, 20 connections, no
        # failure even with fails = 1 (a close taken for one is "closed").
        port = self.nginx(keepalive=5)
        agent = self.start_agent([("web", dict(probe="127.0.0.1:%d" % port, check="https",
                                                interval="100ms", timeout="90ms", fails=1,
                                                **NO_VERIFY))])
        self.beat_with("web", lambda s: s["state"] == "up", what="web up")
        zbtest.wait_for(lambda: len(access_lines(self.nginx_dir)) >= 100, 40,
                        "100 requests in nginx's access log")
        lines = access_lines(self.nginx_dir)
        self.assertEqual(self.downs(timeouts=False), [])
        self.assertTrue(all(status == 200 for _, _, status in lines))
        # Reused: at most 5 requests per connection, and most connections
        # carried 5.
        per_conn = {}
        for conn, number, _ in lines:
            per_conn[conn] = max(per_conn.get(conn, 0), number)
        self.assertLessEqual(max(per_conn.values()), 5)
        self.assertGreaterEqual(sum(1 for n in per_conn.values() if n == 5), 15)
        self.stop_agent(agent)

    def test_keepalive_timeout_closing_an_idle_connection_is_no_failure(self):
        port = self.nginx(keepalive_timeout="300ms")
        agent = self.start_agent([("web", dict(probe="127.0.0.1:%d" % port, check="https",
                                                interval="500ms", fails=1, **NO_VERIFY))])
        self.beat_with("web", lambda s: s["state"] == "up", what="web up")
        zbtest.wait_for(lambda: len(access_lines(self.nginx_dir)) >= 6, 20, "six requests")
        self.assertEqual(self.downs(timeouts=False), [])
        # Each request came on a new connection: nginx closed every idle one.
        self.assertTrue(all(number == 1 for _, number, _ in access_lines(self.nginx_dir)))
        self.stop_agent(agent)

    def test_expect_status_and_expect_body_fail_when_they_should(self):
        port = self.nginx()
        base = dict(probe="127.0.0.1:%d" % port, check="https", fails=1, **NO_VERIFY)
        agent = self.start_agent([
            ("status", dict(base, http="GET /fail")),
            ("status-ok", dict(base, http="GET /fail", **{"expect-status": "200,5xx"})),
            ("body", dict(base, **{"expect-body": '"nope"'})),
            ("body-ok", dict(base, **{"expect-body": '"ok"'})),
            ("head", dict(base, http="HEAD /", **{"expect-status": "200"}))])
        status = self.beat_with("status", lambda s: s["state"] == "down", what="status down")
        self.assertEqual(status["reason"], "bad-response")
        self.assertEqual(status["error"], "http: status 503, expected 200-399")
        body = self.beat_with("body", lambda s: s["state"] == "down", what="body down")
        self.assertEqual(body["error"],
                         'http: status 200, but "nope" is not in the body\'s first 64 KiB')
        for name in ("status-ok", "body-ok", "head"):
            self.beat_with(name, lambda s: s["state"] == "up", what=name + " up")
        self.stop_agent(agent)

    def test_a_large_body_over_tls_is_read_whole_and_the_connection_reused(self):
        # 300 KB: many TLS records per response, more than one read of the
        # session per socket event; the text near the end is past 64 KiB.
        port = self.nginx()
        os.mkdir(os.path.join(self.nginx_dir, "files"))
        with open(os.path.join(self.nginx_dir, "files", "big.txt"), "w") as f:
            f.write("needle " + "x" * 300000 + " late\n")
        # nginx's worker runs as another user: it must be able to read the file.
        for path in (self.tmp, self.nginx_dir, os.path.join(self.nginx_dir, "files")):
            os.chmod(path, 0o755)
        os.chmod(os.path.join(self.nginx_dir, "files", "big.txt"), 0o644)
        base = dict(probe="127.0.0.1:%d" % port, check="https", http="GET /files/big.txt",
                    interval="300ms", timeout="250ms", fails=1, **NO_VERIFY)
        agent = self.start_agent([("big", dict(base, **{"expect-body": '"needle"'})),
                                  ("late", dict(base, **{"expect-body": '"late"'}))])
        self.beat_with("big", lambda s: s["state"] == "up", what="big up")
        late = self.beat_with("late", lambda s: s["state"] == "down", what="late down")
        self.assertIn("is not in the body's first 64 KiB", late["error"])
        zbtest.wait_for(lambda: len(access_lines(self.nginx_dir)) >= 10, 20, "ten requests")
        big = [m for m in self.sub.events() if m["msg"]["service"] == "big" and
               m["msg"]["to"] == "down"]
        self.assertEqual(big, [])
        # Kept alive: requests of one probe share connections.
        conns = {}
        for conn, number, _ in access_lines(self.nginx_dir):
            conns[conn] = max(conns.get(conn, 0), number)
        self.assertGreater(max(conns.values()), 2)
        self.stop_agent(agent)

    def test_every_version_and_aead_cipher_keeps_its_connection(self):
        # Once the handshake is done the agent built with GnuTLS carries the
        # session's records itself (agent/zb_tls_record.c): each of TLS 1.2
        # and 1.3 with each cipher it carries, forced by nginx (OpenSSL),
        # must keep one connection through many keep-alive requests, and say
        # it carried it. Built with OpenSSL, the same requests through it.
        suites = {"AES-128-GCM": ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"),
                  "AES-256-GCM": ("ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384"),
                  "CHACHA20-POLY1305": ("ECDHE-ECDSA-CHACHA20-POLY1305",
                                        "TLS_CHACHA20_POLY1305_SHA256")}
        servers, services = {}, []
        for cipher, (tls12, tls13) in suites.items():
            for version in ("1.2", "1.3"):
                extra = ("ssl_protocols TLSv%s; ssl_prefer_server_ciphers on; " % version +
                         ("ssl_ciphers %s;" % tls12 if version == "1.2" else
                          "ssl_conf_command Ciphersuites %s;" % tls13))
                port = self.nginx(ssl_extra=extra)
                name = "tls%s-%s" % (version, cipher.lower())
                servers[name] = (version, cipher, self.nginx_dir)
                services.append((name, dict(probe="127.0.0.1:%d" % port, check="https",
                                            interval="100ms", fails=1, **NO_VERIFY)))
        agent = self.start_agent(services)
        for name, (version, cipher, directory) in servers.items():
            zbtest.wait_for(lambda: any(n >= 20 for _, n, _ in access_lines(directory)), 30,
                            "20 requests on one connection to " + name)
            self.assertTrue(all(status == 200 for _, _, status in access_lines(directory)))
            if os.environ.get("ZB_TLS", "gnutls") == "gnutls":
                self.assertIn("TLS%s %s session with 127.0.0.1: records now carried" %
                              (version, cipher), agent.output())
        self.assertEqual(self.downs(timeouts=False), [])
        self.stop_agent(agent)

    def test_probe_once_tells_the_http_status(self):
        port = self.nginx()
        path = self.write("once.cfg", "service\n    web\n        probe = localhost:%d\n"
                          "        check = https\n        tls-ca = %s\n"
                          "        interval = 10s\n        timeout = 5s\n"
                          "        expect-body = \"ok\"\n" % (port, self.cert))
        r = subprocess.run([self.agent_bin, "-c", path, "--probe-once", "web"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("http: status 200 (expected 200-399), kept alive, body text found",
                      r.stdout)
        self.assertRegex(r.stdout, r"tls: TLSv1\.[23] in ")
        self.assertRegex(r.stdout, r"verdict: up \(ok\), rtt [0-9.]+ms")


if __name__ == "__main__":
    zbtest.main()
