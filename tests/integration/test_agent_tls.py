"""TLS probes against a real nginx with certificates the test makes.

`tls = yes` does a TLS handshake on every connect and pings inside the
session; the chain and the name are verified unless `tls-verify = no`. A
refused certificate is down with reason `tls` and OpenSSL's words; beats
carry the peer certificate's notAfter as `tls_expires`, also when the
certificate has expired.
"""

import calendar
import os
import shutil
import signal
import subprocess
import time
import unittest

import zbtest
from agent_helpers import AgentCase

NGINX = shutil.which("nginx", path="/usr/sbin:/usr/bin")
OPENSSL = shutil.which("openssl")

NGINX_CONF = """daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format conns '$connection $connection_requests $status';
    access_log {dir}/access.log conns;
    keepalive_timeout {keepalive_timeout};
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests {keepalive};
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        {ssl_extra}
        location / {{ return 200 "ok\\n"; }}
        location /fail {{ return 503 "not ready\\n"; }}
        location /files/ {{ alias {dir}/files/; }}
    }}
    server {{
        listen 127.0.0.1:{plain};
        location / {{ return 200 "plain ok\\n"; }}
    }}
}}
"""

def nginx_conf(ssl_extra="", **keys):
    """NGINX_CONF filled in with keys; ssl_extra: more directives for the
    TLS server (its protocols and ciphers)."""
    return NGINX_CONF.format(ssl_extra=ssl_extra, **keys)


CA_CONF = """[ca]
default_ca = d
[d]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = p
[p]
commonName = supplied
"""

HTTP_PING = {"send": '"GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n"',
             "expect": '"HTTP/1.1 200"'}


def make_cert(directory, name, start=None, end=None):
    """A self-signed certificate for CN=localhost (and SAN localhost),
    valid 30 days, or from start to end ("20200101000000Z") through
    `openssl ca`, which OpenSSL 3.0 needs for a notAfter in the past.
    Returns (cert, key)."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    if start is None:
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "30", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"],
                       check=True, capture_output=True)
        return cert, key
    ca_dir = os.path.join(directory, name + "-ca")
    os.mkdir(ca_dir)
    with open(os.path.join(ca_dir, "index.txt"), "w"):
        pass
    with open(os.path.join(ca_dir, "serial"), "w") as f:
        f.write("01\n")
    conf = os.path.join(ca_dir, "ca.cnf")
    with open(conf, "w") as f:
        f.write(CA_CONF.format(dir=ca_dir))
    csr = os.path.join(ca_dir, "req.csr")
    subprocess.run([OPENSSL, "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    subprocess.run([OPENSSL, "ca", "-batch", "-config", conf, "-selfsign", "-keyfile", key,
                    "-in", csr, "-out", cert, "-startdate", start, "-enddate", end],
                   check=True, capture_output=True)
    return cert, key


def not_after(cert):
    """The certificate's notAfter as RFC 3339 UTC, as beats carry it."""
    out = subprocess.run([OPENSSL, "x509", "-in", cert, "-noout", "-enddate"], check=True,
                         capture_output=True, text=True).stdout.strip()
    when = time.strptime(out.split("=", 1)[1], "%b %d %H:%M:%S %Y GMT")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(when)))


def beat_service(message, name):
    for s in message["msg"].get("services", []):
        if s["name"] == name:
            return s
    return None


@unittest.skipUnless(NGINX and OPENSSL, "nginx and openssl are needed (scripts/deps.sh)")
class TlsCase(AgentCase):

    def setUp(self):
        super().setUp()
        self.cert, self.key = make_cert(self.tmp, "good")

    def nginx(self, cert=None, key=None, keepalive=1000, keepalive_timeout="75s", ssl_extra=""):
        port, self.plain_port = zbtest.free_port(), zbtest.free_port()
        directory = os.path.join(self.tmp, "nginx-%d" % port)
        os.mkdir(directory)
        conf = os.path.join(directory, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(dir=directory, port=port, cert=cert or self.cert,
                                      key=key or self.key, keepalive=keepalive,
                                      keepalive_timeout=keepalive_timeout, ssl_extra=ssl_extra,
                                      plain=self.plain_port))
        self.nginx_dir = directory
        self.nginx_proc = self.start([NGINX, "-c", conf, "-p", directory], "nginx-%d" % port)
        zbtest.wait_for(lambda: zbtest.port_open(port), 10, "nginx listening")
        return port

    def beat_with(self, name, pred, timeout=10, what=""):
        """The first beat whose service name satisfies pred(service)."""
        def ok(m):
            if m["msg"].get("type") != "beat":
                return False
            s = beat_service(m, name)
            return s is not None and pred(s)
        return beat_service(self.sub.wait(ok, timeout, what or "a beat with " + name), name)


class TlsTest(TlsCase):

    def test_up_without_verification_and_the_beat_carries_the_expiry(self):
        port = self.nginx()
        agent = self.start_agent([("web", dict(probe="127.0.0.1:%d" % port, tls="yes",
                                                **{"tls-verify": "no"}, **HTTP_PING))])
        s = self.beat_with("web", lambda s: s["state"] == "up", what="web up")
        self.assertEqual(s["tls_expires"], not_after(self.cert))
        self.assertEqual(s["reason"], "ok")
        self.stop_agent(agent)

    def test_verification_without_the_ca_is_down_tls_and_with_it_up(self):
        port = self.nginx()
        agent = self.start_agent([
            ("plain", dict(probe="127.0.0.1:%d" % port, tls="yes", **HTTP_PING)),
            ("named", dict(probe="127.0.0.1:%d" % port, tls="yes", **HTTP_PING,
                           **{"tls-ca": self.cert, "tls-name": "localhost"})),
            ("wrong", dict(probe="127.0.0.1:%d" % port, tls="yes", **HTTP_PING,
                           **{"tls-ca": self.cert, "tls-name": "example.org"})),
            ("byname", dict(probe="localhost:%d" % port, tls="yes", **HTTP_PING,
                            **{"tls-ca": self.cert}))])
        down = self.beat_with("plain", lambda s: s["state"] == "down", what="plain down")
        self.assertEqual(down["reason"], "tls")
        self.assertIn("certificate verify failed: self-signed certificate", down["error"])
        self.beat_with("named", lambda s: s["state"] == "up", what="named up")
        self.beat_with("byname", lambda s: s["state"] == "up", what="byname up")
        wrong = self.beat_with("wrong", lambda s: s["state"] == "down", what="wrong down")
        self.assertEqual(wrong["reason"], "tls")
        self.assertIn("hostname mismatch", wrong["error"])
        self.stop_agent(agent)

    def test_an_expired_certificate_shows_its_expiry(self):
        cert, key = make_cert(self.tmp, "old", "20200101000000Z", "20200102000000Z")
        port = self.nginx(cert, key)
        agent = self.start_agent([
            ("checked", dict(probe="localhost:%d" % port, tls="yes", **HTTP_PING,
                             **{"tls-ca": cert})),
            ("unchecked", dict(probe="127.0.0.1:%d" % port, tls="yes", **HTTP_PING,
                               **{"tls-verify": "no"}))])
        down = self.beat_with("checked", lambda s: s["state"] == "down", what="checked down")
        self.assertEqual(down["reason"], "tls")
        self.assertIn("certificate has expired", down["error"])
        self.assertEqual(down["tls_expires"], "2020-01-02T00:00:00Z")
        up = self.beat_with("unchecked", lambda s: s["state"] == "up", what="unchecked up")
        self.assertEqual(up["tls_expires"], "2020-01-02T00:00:00Z")
        self.stop_agent(agent)

    def test_a_stopped_tls_server_is_down_at_once(self):
        port = self.nginx()
        # A long interval: only the held connection can see the stop in time.
        agent = self.start_agent([("web", dict(probe="127.0.0.1:%d" % port, tls="yes",
                                                interval="30s", **{"tls-verify": "no"},
                                                **HTTP_PING))])
        self.beat_with("web", lambda s: s["state"] == "up", what="web up")
        start = self.mark()
        # Fast shutdown: the master takes its worker along (SIGKILL would not).
        self.nginx_proc.send_signal(signal.SIGTERM)
        # A third of the interval: only the held connection sees it that
        # soon (how soon is bench/ item 4t's goal, not this test's).
        down = self.wait_event("web", "down", 10, start=start)
        # The reconnect after the EOF either finds the port closed or is
        # reset by the closing listener (it was queued there): both refused.
        self.assertEqual(down["msg"]["reason"], "refused")
        self.stop_agent(agent)

    def test_probe_once_tells_the_tls_version_and_expiry(self):
        port = self.nginx()
        path = self.write("once.cfg", "service\n    web\n        probe = 127.0.0.1:%d\n"
                          "        tls = yes\n        tls-ca = %s\n        tls-name = localhost\n"
                          "        interval = 10s\n        timeout = 5s\n"
                          "        send = \"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\"\n"
                          "        expect = \"HTTP/1.1 200\"\n" % (port, self.cert))
        r = subprocess.run([self.agent_bin, "-c", path, "--probe-once", "web"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"tls: TLSv1\.[23] in [0-9.]+ms, verified, certificate "
                         r"expires %s \(in (29|30) days\)" % not_after(self.cert))
        self.assertIn("verdict: up (ok)", r.stdout)
        path = self.write("once2.cfg", "service\n    web\n        probe = 127.0.0.1:%d\n"
                          "        tls = yes\n        interval = 10s\n        timeout = 5s\n" % port)
        r = subprocess.run([self.agent_bin, "-c", path, "--probe-once", "web"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("verdict: down (tls: tls: certificate verify failed: self-signed "
                      "certificate)", r.stdout)

    def test_probe_once_by_flags_https_and_http(self):
        """--probe-once HOST:PORT takes a service's keys as flags: --check https,
        --tls-verify, --tls-ca, --tls-name, --expect-status, --expect-body,
        --http, --http-header; nginx with the test's own certificate."""
        port = self.nginx()
        target = "127.0.0.1:%d" % port

        # A 5 s timeout: a handshake with verification can outlast the
        # default 500 ms under ASan or on a loaded machine.
        def once(*flags):
            r = subprocess.run([self.agent_bin, "--probe-once", target, "--timeout", "5s"] +
                               list(flags), capture_output=True, text=True, timeout=20)
            return r.returncode, r.stdout, r.stderr

        rc, out, err = once("--check", "https", "--tls-verify", "no")
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"tls: TLSv1\.[23] in [0-9.]+ms, not verified \(tls-verify = no\), "
                         r"certificate expires %s" % not_after(self.cert))
        self.assertIn("http: status 200 (expected 200-399), kept alive", out)
        # Verified against the test's CA, by the name in the certificate.
        rc, out, err = once("--check", "https", "--tls-ca", self.cert, "--tls-name", "localhost")
        self.assertEqual(rc, 0, out + err)
        self.assertIn(", verified, certificate expires", out)
        # Verification on (the default) without the CA: down/tls.
        rc, out, err = once("--check", "https")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("verdict: down (tls: tls: certificate verify failed: self-signed", out)
        # --tls on a plain request line: the same as check = https.
        rc, out, err = once("--tls", "--tls-verify", "no", "--http", "GET /")
        self.assertEqual(rc, 0, out + err)
        # The status and the body, failing when they should.
        rc, out, err = once("--check", "https", "--tls-verify", "no", "--expect-status", "3xx")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("verdict: down (bad-response: http: status 200, expected 3xx)", out)
        rc, out, err = once("--check", "https", "--tls-verify", "no", "--http", "GET /fail")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("http: status 503 (expected 200-399)", out)
        rc, out, err = once("--check", "https", "--tls-verify", "no", "--http", "GET /fail",
                            "--expect-status", "200,503", "--expect-body", "not ready")
        self.assertEqual(rc, 0, out + err)
        rc, out, err = once("--check", "https", "--tls-verify", "no", "--expect-body", "no such text")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("body text NOT found", out)
        rc, out, err = once("--check", "https", "--tls-verify", "no", "--expect-body", "ok",
                            "--http-header", "X-A: 1", "--http-header", "X-B: 2")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("\\r\\nX-A: 1\\r\\nX-B: 2\\r\\n", out)
        # Plain HTTP on nginx's other port: check = http.
        target = "127.0.0.1:%d" % self.plain_port
        rc, out, err = once("--check", "http", "--expect-body", "plain ok")
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("tls:", out)

    def test_config_errors(self):
        for keys, message in [
                ({"tls-ca": self.cert}, "service/web/tls-ca: needs tls = yes"),
                ({"tls": "maybe"}, "service/web/tls: \"maybe\" is not yes or no"),
                ({"tls": "yes", "tls-ca": "/nonexistent/ca.pem"},
                 "service/web/tls-ca: cannot read /nonexistent/ca.pem: No such file"),
                ({"tls": "yes", "tls-verify": "no", "tls-ca": self.cert},
                 "service/web/tls-ca: does not go with tls-verify = no")]:
            lines = ["service", "    web", "        probe = 127.0.0.1:1"]
            lines += ["        %s = %s" % kv for kv in keys.items()]
            path = self.write("bad.cfg", "\n".join(lines) + "\n")
            r = subprocess.run([self.agent_bin, "-c", path, "--check-config"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn(message, r.stderr)


if __name__ == "__main__":
    zbtest.main()
