"""zbeat --url (issues 21, 22): the CLI asks running monitors' HTTP API
(TLS from the test's own CA, users with roles) instead of the database,
and merges the answers of several monitors: shards (distinct hosts) and
redundant pairs (one outage shows once). State changes (silences) need the
admin role and are written by the monitor itself."""

import json
import os

import zbtest
from http_helpers import HttpCase, request
from monitor_helpers import FakeAgent, now_ms
from test_http_security import make_ca


class CliRemoteTest(HttpCase):

    def setUp(self):
        super().setUp()
        self.ca, self.cert, self.key = make_ca(self)
        self.users = os.path.join(self.tmp, "users")
        text = "user\n"
        for name, password, role in (("alice", "admin-pw", "admin"), ("bob", "read-pw", "read")):
            rc, out, err = self.run_cmd([self.cli_bin, "hash-password"],
                                        input=password.encode() + b"\n")
            self.assertEqual(rc, 0, err)
            text += '    %s\n        password = "%s"\n        role = %s\n' % (
                name, out.strip(), role)
        with open(self.users, "w") as f:
            f.write(text)

    def secure_monitor(self, name):
        """A monitor of its own (database, bind, HTTP port) with TLS and users."""
        db = os.path.join(self.tmp, name + ".db")
        port, http = zbtest.free_port(), zbtest.free_port()
        cfg = self.write(name + ".cfg", "monitor\n    http = 127.0.0.1:%d\n"
                         "    http-tls-cert = %s\n    http-tls-key = %s\n    http-users = %s\n"
                         % (http, self.cert, self.key, self.users))
        endpoint = "tcp://127.0.0.1:%d" % port
        proc = self.start([self.monitor_bin, "--db", db, "--bind", endpoint, "-c", cfg], name)
        zbtest.wait_for(lambda: zbtest.port_open(http) or not proc.alive(), 10, "HTTP port")
        self.assertTrue(proc.alive(), proc.output())
        return {"db": db, "endpoint": endpoint, "url": "https://localhost:%d" % http, "proc": proc}

    def agent(self, monitor, host, instance=None, interval_ms=200):
        a = FakeAgent(monitor["endpoint"], host, interval_ms, instance)
        self.fakes.append(a)
        a.wait_subscribed()
        return a

    def remote(self, urls, *args, user="bob", password="read-pw"):
        env = {"ZBEAT_PASSWORD": password}
        return self.run_cmd([self.cli_bin, "--url", ",".join(urls), "--user", user,
                             "--cacert", self.ca] + [str(a) for a in args], env=env)

    def local(self, monitor, *args):
        return self.run_cmd([self.cli_bin, "--db", monitor["db"]] + [str(a) for a in args])

    def wait_service(self, monitor, host, service, state):
        def check():
            rc, out, _ = self.local(monitor, "status", "--json")
            return rc == 0 and any(r["host"] == host and r["service"] == service and
                                   r["state"] == state for r in json.loads(out))
        zbtest.wait_for(check, 15, "%s/%s %s" % (host, service, state))

    def outage(self, monitor, agent, service, start):
        """A closed outage of service, from start, 2 s long."""
        agent.event(service, "up", at_ms=start - 1000)
        agent.beat()
        agent.event(service, "down", at_ms=start)
        agent.event(service, "up", at_ms=start + 2000)
        agent.beat()

    def test_remote_answers_as_local(self):
        a = self.secure_monitor("a")
        web = self.agent(a, "web-1")
        start = now_ms() - 60000
        self.outage(a, web, "redis", start)
        self.wait_service(a, "web-1", "redis", "up")
        zbtest.wait_for(lambda: self.local(a, "outages", "--json")[1].count("redis") == 1, 15,
                        "the outage recorded")
        #  The agent stops: once its host is silent nothing moves (the host
        #  outage, open, grows: outages are asked of the service).
        zbtest.wait_for(lambda: '"silent"' in self.local(a, "hosts", "--json")[1], 15,
                        "web-1 silent")
        redis = ["--service", "redis"]
        for args in (["outages"] + redis, ["outages", "--json"] + redis,
                     ["outages", "--csv"] + redis, ["hosts", "--json"], ["hosts", "--csv"],
                     ["status", "--json"], ["alerts", "--json"],
                     ["status", "--json", "--state", "problems"],
                     ["status", "--json", "--service", "red*"]):
            rc, out, err = self.remote([a["url"]], *args)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out, self.local(a, *args)[1], args)
        rc, out, err = self.remote([a["url"]], "status")
        self.assertEqual(rc, 0, err)
        local = self.local(a, "status")[1]
        #  The monitor's line, then the table; FOR (up to now) may differ by
        #  the time between the two runs.
        self.assertTrue(out.startswith("monitor: up "), out)
        cut = lambda text: [line.split()[:4] for line in text.splitlines()[1:]]
        self.assertEqual(cut(out), cut(local))
        #  By default the counts and the problems only (the monitor
        #  filters: state=problems); --all every row.
        #  (A silent host's services are unknown: problems too.)
        self.assertEqual(out.splitlines()[1], "1 host: 1 silent; 1 service: 1 unknown")
        self.assertEqual([l.split()[:3] for l in out.splitlines()[3:]],
                         [["web-1", "-", "silent"], ["web-1", "redis", "unknown"]])
        rc, out, err = self.remote([a["url"]], "status", "--all")
        self.assertEqual(rc, 0, err)
        self.assertEqual(cut(out), cut(self.local(a, "status", "--all")[1]))
        self.assertEqual(len(out.splitlines()), 5, out)
        rc, out, err = self.remote([a["url"]], "status", "--state", "up")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[2:], ["no row matches"])

    def test_clean_errors(self):
        a = self.secure_monitor("a")
        rc, out, err = self.remote([a["url"]], "status", password="wrong")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err.strip(), "zbeat: %s: authentication failed" % a["url"])
        closed = "https://127.0.0.1:%d" % zbtest.free_port()
        rc, out, err = self.remote([closed], "status")
        self.assertEqual(rc, 1)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(closed, err)
        rc, _, err = self.run_cmd([self.cli_bin, "--url", a["url"], "--user", "bob", "status"],
                                  env={"ZBEAT_PASSWORD": ""})
        self.assertEqual(rc, 2, err)

    def test_shards_merge_and_partial(self):
        a, b = self.secure_monitor("a"), self.secure_monitor("b")
        #  A long beat interval: neither host goes silent during the test.
        web = self.agent(a, "web-1", interval_ms=600000)
        db = self.agent(b, "db-1", interval_ms=600000)
        web.event("nginx", "up")
        web.beat()
        db.event("pg", "down")
        db.beat()
        self.wait_service(a, "web-1", "nginx", "up")
        self.wait_service(b, "db-1", "pg", "down")
        rc, out, err = self.remote([a["url"], b["url"]], "status", "--json")
        self.assertEqual(rc, 0, err)
        rows = {(r["host"], r["service"]): r["state"] for r in json.loads(out)}
        self.assertEqual(rows[("web-1", "nginx")], "up")
        self.assertEqual(rows[("db-1", "pg")], "down")
        rc, out, err = self.remote([a["url"], b["url"]], "hosts", "--json")
        self.assertEqual(sorted(h["host"] for h in json.loads(out)), ["db-1", "web-1"])
        gone = "https://127.0.0.1:%d" % zbtest.free_port()
        rc, out, err = self.remote([a["url"], gone], "status", "--json")
        self.assertEqual(rc, 3, err)
        self.assertIn("warning: %s" % gone, err)
        self.assertIn(("web-1", "nginx"), {(r["host"], r["service"]) for r in json.loads(out)})

    def test_redundant_pair_outage_once(self):
        a, b = self.secure_monitor("a"), self.secure_monitor("b")
        start = now_ms() - 60000
        for m in (a, b):
            self.outage(m, self.agent(m, "web-1", instance="00000000000000aa"), "redis", start)
        for m in (a, b):
            zbtest.wait_for(lambda: self.local(m, "outages", "--json")[1].count("redis") == 1, 15,
                            "the outage recorded")
        rc, out, err = self.remote([a["url"], b["url"]], "outages", "--json")
        self.assertEqual(rc, 0, err)
        rows = [o for o in json.loads(out) if o["service"] == "redis"]
        self.assertEqual(len(rows), 1, out)
        rc, out, err = self.remote([a["url"], b["url"]], "report", "--json")
        self.assertEqual(rc, 0, err)
        keys = [(r["host"], r["service"]) for r in json.loads(out)["rows"]]
        self.assertEqual(len(keys), len(set(keys)), out)

    def test_silence_needs_admin(self):
        a = self.secure_monitor("a")
        args = ["silence", "add", "--host", "web-*", "--for", "1h", "--reason", "upgrade"]
        rc, out, err = self.remote([a["url"]], *args)
        self.assertEqual(rc, 1)
        self.assertIn("forbidden", err)
        self.assertIn("no active silences", self.local(a, "silence", "list")[1])
        rc, out, err = self.remote([a["url"]], *args, user="alice", password="admin-pw")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^silence \d+: web-\*/\* until ")
        listed = json.loads(self.local(a, "silence", "list", "--json")[1])
        self.assertEqual([(s["host"], s["reason"]) for s in listed], [("web-*", "upgrade")])
        rc, out, err = self.remote([a["url"]], "silence", "list", "--json")
        self.assertEqual(json.loads(out), listed)
        #  CSRF: a change without a JSON body type is refused, even for admin.
        rc, out, err = self.run_cmd(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                     "--cacert", self.ca, "-u", "alice:admin-pw", "-X", "DELETE",
                                     a["url"] + "/api/v1/silences/%d" % listed[0]["id"]])
        self.assertEqual(out, "415")
        rc, out, err = self.remote([a["url"]], "silence", "remove", listed[0]["id"],
                                   user="alice", password="admin-pw")
        self.assertEqual(rc, 0, err)
        self.assertIn("no active silences", self.local(a, "silence", "list")[1])

    def test_forget_needs_admin(self):
        a = self.secure_monitor("a")
        agent = self.agent(a, "old-1")
        agent.set("svc", "up")
        agent.beat()
        self.wait_service(a, "old-1", "svc", "up")
        agent.stop()  # decommissioned: a planned stop

        def host_state():
            rows = json.loads(self.local(a, "hosts", "--json")[1])
            return {h["host"]: h["state"] for h in rows}.get("old-1", "gone")
        zbtest.wait_for(lambda: host_state() == "stopped", 15, "old-1 stopped")
        rc, out, err = self.remote([a["url"]], "hosts", "forget", "old-1")
        self.assertEqual(rc, 1)
        self.assertIn("forbidden", err)
        self.assertEqual(host_state(), "stopped")
        rc, out, err = self.remote([a["url"]], "hosts", "forget", "old-1", user="alice",
                                   password="admin-pw")
        self.assertEqual(rc, 0, err)
        self.assertEqual(host_state(), "gone")


if __name__ == "__main__":
    zbtest.main()
