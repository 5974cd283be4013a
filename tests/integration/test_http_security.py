"""The HTTP port made safe to expose (issue 21): TLS from the monitor's own
certificate and key, and users with bcrypt hashes and roles (read, admin)
behind HTTP Basic authentication; /healthz stays open, /metrics by a
switch; the users file is re-read on SIGHUP. The certificates come from
the test's own CA (openssl), checked by curl --cacert and python's ssl."""

import base64
import http.client
import os
import signal
import socket
import ssl
import subprocess

import zbtest
from http_helpers import HttpCase


def make_ca(case):
    """A CA and a server certificate for localhost and 127.0.0.1 (EC keys:
    quick to make). Returns (ca.pem, server.pem, server.key)."""
    d = case.tmp
    ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    cert, key = os.path.join(d, "server.pem"), os.path.join(d, "server.key")
    csr, ext = os.path.join(d, "server.csr"), case.write("ext.cnf",
                                                        "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for args in (["req", "-x509"] + ec + ["-keyout", ca_key, "-out", ca, "-days", "2",
                                          "-subj", "/CN=zbeat test CA"],
                 ["req"] + ec + ["-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
                 ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                  "-out", cert, "-days", "2", "-extfile", ext]):
        rc, out, err = case.run_cmd(["openssl"] + args)
        case.assertEqual(rc, 0, "openssl %s: %s" % (args[0], err))
    return ca, cert, key


class HttpSecurityTest(HttpCase):

    def setUp(self):
        super().setUp()
        self.ca, self.cert, self.key = make_ca(self)
        self.users = os.path.join(self.tmp, "users")
        self.write_users({"alice": ("admin-pw", "admin"), "bob": ("read-pw", "read")})

    def hash(self, password):
        rc, out, err = self.run_cmd([self.cli_bin, "hash-password"], input=password.encode() + b"\n")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("$2b$10$"), out)
        return out.strip()

    def write_users(self, users):
        text = "user\n"
        for name, (password, role) in users.items():
            text += '    %s\n        password = "%s"\n        role = %s\n' % (
                name, self.hash(password), role)
        with open(self.users, "w") as f:
            f.write(text)

    def config(self, tls=True, metrics_auth=None, users=True):
        text = "monitor\n    http = 127.0.0.1:%d\n" % self.http_port
        if tls:
            text += "    http-tls-cert = %s\n    http-tls-key = %s\n" % (self.cert, self.key)
        if users:
            text += "    http-users = %s\n" % self.users
        if metrics_auth is not None:
            text += "    http-metrics-auth = %s\n" % metrics_auth
        return self.write("monitor.cfg", text)

    def start_secure(self, **kw):
        proc = self.start_monitor(["-c", self.config(**kw)])
        zbtest.wait_for(lambda: zbtest.port_open(self.http_port), 10, "the HTTP port")
        return proc

    def https(self, path, user=None, password=None, method="GET"):
        context = ssl.create_default_context(cafile=self.ca)
        conn = http.client.HTTPSConnection("localhost", self.http_port, context=context,
                                           timeout=20 * zbtest.SLOW)
        headers = {}
        if user is not None:
            token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            headers["Authorization"] = "Basic " + token
        try:
            conn.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def test_tls_with_the_tests_own_ca(self):
        self.start_secure()
        rc, out, err = self.run_cmd(["curl", "-sS", "--cacert", self.ca, "-u", "bob:read-pw",
                                     "-o", "/dev/null", "-w", "%{http_code}",
                                     "https://localhost:%d/api/v1/status" % self.http_port])
        self.assertEqual((rc, out), (0, "200"), err)
        # Without the CA the certificate is not trusted.
        rc, out, err = self.run_cmd(["curl", "-sS", "-o", "/dev/null",
                                     "https://localhost:%d/healthz" % self.http_port])
        self.assertNotEqual(rc, 0)
        # Plain HTTP to the TLS port: no HTTP answer.
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10 * zbtest.SLOW)
        with self.assertRaises((http.client.HTTPException, OSError)):
            conn.request("GET", "/api/v1/status")
            conn.getresponse().read()
        conn.close()
        # ... and the server still serves TLS after it.
        self.assertEqual(self.https("/api/v1/status", "bob", "read-pw")[0], 200)

    def test_users_and_roles(self):
        self.start_secure()
        status, headers, body = self.https("/api/v1/status")
        self.assertEqual(status, 401)
        self.assertIn("Basic", headers.get("www-authenticate", ""))
        self.assertNotIn(b"host", body)
        self.assertEqual(self.https("/")[0], 401)
        self.assertEqual(self.https("/app.js")[0], 401)
        self.assertEqual(self.https("/api/v1/status", "bob", "wrong")[0], 401)
        self.assertEqual(self.https("/api/v1/status", "nobody", "read-pw")[0], 401)
        self.assertEqual(self.https("/api/v1/status", "bob", "read-pw")[0], 200)
        self.assertEqual(self.https("/", "bob", "read-pw")[0], 200)
        self.assertEqual(self.https("/api/v1/outages", "bob", "read-pw")[0], 200)
        # Changes need admin: 403 for a read user; an admin passes the
        # guard (and meets 405: no route changes state yet).
        self.assertEqual(self.https("/api/v1/status", "bob", "read-pw", "POST")[0], 403)
        self.assertEqual(self.https("/api/v1/status", "alice", "admin-pw", "POST")[0], 405)
        self.assertEqual(self.https("/api/v1/status", "alice", "admin-pw")[0], 200)
        # /healthz and (by default) /metrics are open.
        self.assertIn(self.https("/healthz")[0], (200, 503))
        self.assertEqual(self.https("/metrics")[0], 200)

    def test_metrics_behind_auth_by_the_switch(self):
        self.start_secure(tls=False, metrics_auth="yes")
        a = self.get("/metrics")
        self.assertEqual(a.status, 401)
        token = base64.b64encode(b"bob:read-pw").decode()
        a = self.get("/metrics", headers={"Authorization": "Basic " + token})
        self.assertEqual(a.status, 200)
        self.assertIn(b"zbeat_build_info", a.body)
        self.assertNotEqual(self.get("/healthz").status, 401)

    def test_sighup_rereads_the_users(self):
        proc = self.start_secure(tls=False)
        token = lambda u, p: {"Authorization": "Basic " +
                              base64.b64encode(("%s:%s" % (u, p)).encode()).decode()}
        self.assertEqual(self.get("/api/v1/status", headers=token("bob", "read-pw")).status, 200)
        self.write_users({"alice": ("admin-pw", "admin"), "carol": ("c-pw", "read")})
        proc.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: self.get("/api/v1/status",
                                         headers=token("carol", "c-pw")).status == 200,
                        10, "carol admitted after SIGHUP")
        self.assertEqual(self.get("/api/v1/status", headers=token("bob", "read-pw")).status, 401)
        # A broken users file is rejected whole: the users in force stay.
        with open(self.users, "w") as f:
            f.write("user\n    dave\n        password = plain\n")
        proc.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: "reload rejected" in proc.output(), 10, "the reload rejected")
        self.assertIn("user/dave/password", proc.output())
        self.assertEqual(self.get("/api/v1/status", headers=token("carol", "c-pw")).status, 200)

    def test_sighup_with_tls_serves_again(self):
        proc = self.start_secure()
        proc.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: "reloaded" in proc.output(), 10, "reloaded")
        zbtest.wait_for(lambda: self.https("/healthz")[0] in (200, 503), 10, "TLS again")

    def test_bad_settings_exit_2_naming_file_and_key(self):
        with open(self.users, "w") as f:
            f.write("user\n    bob\n        password = \"$2b$10$short\"\n")
        cfg = self.config()
        rc, out, err = self.run_cmd([self.monitor_bin, "--db", self.db, "--bind", self.endpoint,
                                     "-c", cfg, "--check-config"])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("http-users", err)
        self.assertIn("user/bob/password", err)
        cfg = self.write("half.cfg", "monitor\n    http = 127.0.0.1:0\n    http-tls-cert = %s\n"
                         % self.cert)
        rc, out, err = self.run_cmd([self.monitor_bin, "-c", cfg, "--check-config"])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("http-tls-cert and http-tls-key go together", err)
        rc, out, err = self.run_cmd([self.cli_bin, "hash-password"], input=b"")
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    zbtest.main()
