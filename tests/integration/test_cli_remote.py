"""zbeat --url (issues 21, 22): the CLI asks running monitors' HTTP API
(TLS from the test's own CA, users with roles) instead of the database,
and merges the answers of several monitors: shards (distinct hosts) and
redundant pairs (one outage shows once). Every monitor is asked at once,
and status learns who heard a host last from the hosts of its answers only.
State changes (silences) need the admin role and are written by the monitor
itself."""

import base64
import json
import os
import sqlite3
import ssl
import urllib.error
import urllib.request

import zbtest
from http_helpers import HttpCase, request
from monitor_helpers import FakeAgent, now_ms
from proxy_helpers import Proxy
from test_http_security import make_ca


class Gate(Proxy):
    """A Proxy in front of a real monitor (TLS behind it) that holds each
    request until `until()` holds (None: at once). A request still held
    after 15 s gets a 504 instead (sooner than the CLI's run gives up: a CLI
    that waits for it sees the 504)."""

    def __init__(self, case, target, cafile, until=None):
        def hold():
            try:
                if until:
                    zbtest.wait_for(until, 15, "the gate's condition")
                return True
            except AssertionError:
                return False

        super().__init__(target, cafile, hold, timeout=30 * zbtest.SLOW)
        case.addCleanup(self.close)

    def hosts_asked(self):
        """The names the GET /api/v1/hosts requests named (None: one named
        none, the whole list)."""
        names = set()
        for path in self.paths:
            if not path.startswith("/api/v1/hosts"):
                continue
            if not path.startswith("/api/v1/hosts?host="):
                return None
            names.update(path[len("/api/v1/hosts?host="):].split(","))
        return names


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

    def secure_monitor(self, name, args=()):
        """A monitor of its own (database, bind, HTTP port) with TLS and users."""
        db = os.path.join(self.tmp, name + ".db")
        port, http = zbtest.free_port(), zbtest.free_port()
        cfg = self.write(name + ".cfg", "monitor\n    http = 127.0.0.1:%d\n"
                         "    http-tls-cert = %s\n    http-tls-key = %s\n    http-users = %s\n"
                         % (http, self.cert, self.key, self.users))
        endpoint = "tcp://127.0.0.1:%d" % port
        proc = self.start([self.monitor_bin, "--db", db, "--bind", endpoint, "-c", cfg] +
                          list(args), name)
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

    def two_shards(self, a_args=()):
        """Monitors a and b, each with a host of its own: web-1 (nginx up)
        on a, db-1 (pg down) on b. A long beat interval: neither host goes
        silent during the test."""
        a, b = self.secure_monitor("a", a_args), self.secure_monitor("b")
        for m, host, service, state in ((a, "web-1", "nginx", "up"), (b, "db-1", "pg", "down")):
            agent = self.agent(m, host, interval_ms=600000)
            agent.event(service, state)
            agent.beat()
        self.wait_service(a, "web-1", "nginx", "up")
        self.wait_service(b, "db-1", "pg", "down")
        return a, b

    def test_remote_answers_as_local(self):
        a = self.secure_monitor("a")
        #  A long interval while redis is to be seen up: at 200 ms the host
        #  could be silent (redis unknown) before the CLI saw it up.
        web = self.agent(a, "web-1", interval_ms=3600000)
        start = now_ms() - 60000
        self.outage(a, web, "redis", start)
        self.wait_service(a, "web-1", "redis", "up")
        zbtest.wait_for(lambda: self.local(a, "outages", "--json")[1].count("redis") == 1, 15,
                        "the outage recorded")
        #  The agent stops (its last beat announcing 200 ms): once its host
        #  is silent nothing moves (the host outage, open, grows: outages
        #  are asked of the service).
        web.interval_ms = 200
        web.beat()
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
        a, b = self.two_shards()
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

    def test_outages_past_one_page(self):
        """The API gives at most 10,000 outages a request: the CLI asks page
        after page, so a remote answer is the local one, --limit or not."""
        a, b = self.secure_monitor("a"), self.secure_monitor("b")
        t = now_ms() - 3600000
        for m, host, count in ((a, "web-1", 10050), (b, "db-1", 3)):
            conn = sqlite3.connect(m["db"], timeout=30)
            conn.executemany("INSERT INTO outages (kind, host, service, started_at_ms, "
                             "ended_at_ms, reason, end_reason) VALUES "
                             "('service', ?, 'redis', ?, ?, 'refused', 'up')",
                             [(host, t - i * 10000, t - i * 10000 + 2000) for i in range(count)])
            conn.commit()
            conn.close()
        rc, out, err = self.local(a, "outages", "--json")
        self.assertEqual(rc, 0, err)
        local = json.loads(out)
        self.assertEqual(len(local), 10050)
        rc, out, err = self.remote([a["url"]], "outages", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), local)
        rc, out, err = self.remote([a["url"]], "outages", "--json", "--limit", 10020)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), local[:10020])
        # Two monitors: every row of both, newest first.
        rc, out, err = self.remote([a["url"], b["url"]], "outages", "--json")
        self.assertEqual(rc, 0, err)
        rows = json.loads(out)
        self.assertEqual(len(rows), 10053)
        self.assertEqual(sum(r["host"] == "db-1" for r in rows), 3)
        starts = [r["started_at"] for r in rows]
        self.assertEqual(starts, sorted(starts, reverse=True))

    def test_monitors_asked_at_once(self):
        """The first URL's monitor (b, behind a gate) answers only once a,
        the second, has been asked (a's debug log says so). Asked one after
        the other, b's gate would wait for a request that comes only after
        its own answer, and give up: a warning, exit 3."""
        a, b = self.two_shards(a_args=["-v"])
        a_asked = lambda: "http: GET /api/v1/status" in a["proc"].output()
        self.assertFalse(a_asked())
        gate = Gate(self, b["url"], self.ca, until=a_asked)
        rc, out, err = self.remote([gate.url, a["url"]], "status", "--json")
        self.assertEqual((rc, err), (0, ""))
        rows = {(r["host"], r["service"]): r["state"] for r in json.loads(out)}
        self.assertEqual((rows[("web-1", "nginx")], rows[("db-1", "pg")]), ("up", "down"))
        self.assertEqual(gate.paths, ["/api/v1/status"])
        #  The table: each monitor's line and counts, prefixed by its URL, in
        #  the order given, then the problems of both.
        rc, out, err = self.remote([gate.url, a["url"]], "status")
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual([l.split(": monitor: ")[0] for l in lines if ": monitor: " in l],
                         [gate.url, a["url"]], out)
        self.assertIn(["db-1", "pg", "down"], [l.split()[:3] for l in lines])
        self.assertNotIn("web-1", out)

    def put_hosts(self, monitor, rows):
        """Hosts written straight into a monitor's database: (name, state,
        last_seen_ms)."""
        conn = sqlite3.connect(monitor["db"], timeout=30)
        try:
            conn.executemany(
                "INSERT INTO hosts (name, state, since_ms, interval_ms, last_seen_ms) "
                "VALUES (?, ?, ?, 3600000, ?)", ((n, st, seen, seen) for n, st, seen in rows))
            conn.commit()
        finally:
            conn.close()

    def api(self, monitor, path):
        """GET path of a monitor's API as bob: (status, JSON)."""
        req = urllib.request.Request(monitor["url"] + path)
        req.add_header("Authorization", "Basic " + base64.b64encode(b"bob:read-pw").decode())
        context = ssl.create_default_context(cafile=self.ca)
        try:
            with urllib.request.urlopen(req, context=context, timeout=10 * zbtest.SLOW) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_status_asks_only_for_its_hosts(self):
        """Who heard a host last comes from GET /api/v1/hosts?host=... for
        the hosts of the answers, never from every host of a monitor (b
        has 2000, 667 of them silent: two questions of at most 500 names
        each). shared-1 is silent on a but b heard it since (alive there):
        not a problem; shared-2 the other way round."""
        a, b = self.secure_monitor("a"), self.secure_monitor("b")
        t, old = now_ms(), now_ms() - 600000
        silent_b = ["host-%04d" % i for i in range(0, 2000, 3)]
        self.put_hosts(b, [("host-%04d" % i, "alive", t) for i in range(2000)
                           if "host-%04d" % i not in silent_b] +
                       [(h, "silent", old) for h in silent_b] +
                       [("shared-1", "alive", t), ("shared-2", "silent", old)])
        self.put_hosts(a, [("web-9", "silent", old), ("shared-1", "silent", old),
                           ("shared-2", "alive", t)])
        gate = Gate(self, b["url"], self.ca)
        rc, out, err = self.remote([a["url"], gate.url], "status", "--json", "--state",
                                   "problems")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(sorted(r["host"] for r in json.loads(out)), silent_b + ["web-9"])
        #  Filtered answers: every host they name is asked about (a
        #  monitor may have heard last a host it does not list).
        self.assertEqual(gate.hosts_asked(), set(silent_b + ["shared-1", "shared-2", "web-9"]))
        self.assertEqual(len([p for p in gate.paths if p.startswith("/api/v1/hosts")]), 2)
        #  Unfiltered, each monitor's answer holds every host it knows: only
        #  the hosts both name are asked about.
        del gate.paths[:]
        rc, out, err = self.remote([a["url"], gate.url], "status", "--json")
        self.assertEqual((rc, err), (0, ""))
        rows = {r["host"]: r["state"] for r in json.loads(out)}
        self.assertEqual(len(rows), 2003)
        self.assertEqual((rows["shared-1"], rows["shared-2"], rows["web-9"]),
                         ("alive", "alive", "silent"))
        self.assertEqual(gate.hosts_asked(), {"shared-1", "shared-2"})
        #  The same as the whole lists would give: `hosts` reads them.
        rc, out, err = self.remote([a["url"], gate.url], "hosts", "--json")
        self.assertEqual({h["host"]: h["state"] for h in json.loads(out)}, rows)
        #  The filter itself: exact names, sorted, unknown ones left out.
        status, answer = self.api(b, "/api/v1/hosts?host=shared-2,host-0007,nobody,host-0007")
        self.assertEqual(status, 200)
        self.assertEqual([(h["host"], h["state"]) for h in answer],
                         [("host-0007", "alive"), ("shared-2", "silent")])
        for bad in ("", "web-*", "a,,b", ",".join("h%d" % i for i in range(1001))):
            status, answer = self.api(b, "/api/v1/hosts?host=" + bad)
            self.assertEqual(status, 400, bad[:40])
            self.assertIn("host", answer["error"])

    def test_dedup_window(self):
        """Two monitors' records of one outage 3 s apart: once by default
        (5 s), twice with --dedup-window 2s."""
        a, b = self.secure_monitor("a"), self.secure_monitor("b")
        start = now_ms() - 60000
        for m, shift in ((a, 0), (b, 3000)):
            self.outage(m, self.agent(m, "web-1", instance="00000000000000aa"), "redis",
                        start + shift)
        for m in (a, b):
            zbtest.wait_for(lambda: self.local(m, "outages", "--json")[1].count("redis") == 1, 15,
                            "the outage recorded")
        urls = [a["url"], b["url"]]
        redis = lambda out: [o for o in json.loads(out) if o["service"] == "redis"]
        for window, count in ((None, 1), ("2s", 2), ("3s", 1), ("0s", 2)):
            args = ["outages", "--json"] + (["--dedup-window", window] if window else [])
            rc, out, err = self.remote(urls, *args)
            self.assertEqual(rc, 0, err)
            self.assertEqual(len(redis(out)), count, (window, out))
        for args in (["outages", "--dedup-window", "2h"], ["outages", "--dedup-window", "5"],
                     ["status", "--dedup-window", "5s"]):
            rc, out, err = self.remote(urls, *args)
            self.assertEqual((rc, out), (2, ""), args)
            self.assertIn("--dedup-window", err)
        rc, out, err = self.local(a, "outages", "--dedup-window", "5s")
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("--dedup-window is for outages with --url", err)

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
        agent = self.agent(a, "old-1", interval_ms=3600000)  # stopped, never silent
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
