"""A probed service's graceful shutdown is never delayed by zbeat (issue 16,
point 5), against the real servers: PostgreSQL (`pg_ctl stop -m fast`) and
nginx (`nginx -s quit`, i.e. SIGQUIT to the master).

An idle connection held open by a connection-only probe made PostgreSQL's
fast stop wait for authentication_timeout (60 s) and kept nginx "shutting
down" for about a minute, while the service looked up. Now a probe without
a ping connects per check and closes at once (hold = no): each stop takes
as long with the agent attached as without it (the assertion allows a few
seconds, far from that minute), and the service is down within two
intervals of the stop (by the agent's clock, plus SLACK for a loaded
machine). A held probe with a real ping (an HTTP/1.1 keep-alive request to
nginx) does not delay nginx either: nginx closes idle keep-alive
connections at once on quit.

The servers run from temporary directories on 127.0.0.1 (NOTES-probes.md)."""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import zbtest
from agent_helpers import AgentCase

INTERVAL = 0.5
# What a loaded machine may add to "within two intervals" (the agent's own
# wake-ups, as it stamps at_ms): far from the minute a held connection
# delayed a stop, and from never (the drain without the listener check).
SLACK = 1.0 * zbtest.SLOW
# What a stop may take with the agent beyond what it takes without: noise
# (a checkpoint's fsync on a busy disk), far from that minute.
STOP_NOISE = 5.0 * zbtest.SLOW


def pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


def skip_pg():
    if os.geteuid() != 0:
        return "needs root (runs the cluster as postgres)"
    if not pg_bin():
        return "PostgreSQL is not installed (scripts/deps.sh)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user"
    return None


class GracefulCase(AgentCase):

    def probe_agent(self, port, **keys):
        probe = {"probe": "127.0.0.1:%d" % port, "interval": "%dms" % (INTERVAL * 1000)}
        probe.update(keys)
        agent = self.start_agent([("svc", probe)])
        self.wait_subscribed()
        self.wait_event_or_beat_up()
        return agent

    def wait_event_or_beat_up(self):
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "svc") == "up", 10, "a beat with svc up")
        # A few checks' worth of probing before the stop.
        t0 = time.monotonic()
        zbtest.wait_for(lambda: time.monotonic() - t0 > 3 * INTERVAL, 5, "three intervals")

    def assert_down_soon(self, start, t_stopped):
        """t_stopped: wall time (time.time()) when the stop was over."""
        down = self.wait_event("svc", "down", 5, start=start)
        self.assertEqual(down["msg"]["reason"], "refused")
        late = zbtest.at_s(down) - t_stopped
        self.assertLess(late, 2 * INTERVAL + SLACK, "down %.3fs after the stop" % late)
        # start is a message index (mark()), not an event index.
        early = [m for m in self.sub.messages()[start:] if m["msg"].get("type") == "event" and
                 m["msg"]["to"] == "down" and zbtest.at_s(m) < t_stopped - 5]
        self.assertEqual(early, [], "down before the stop")


@unittest.skipIf(skip_pg(), skip_pg())
class PostgresTest(GracefulCase):

    def setUp(self):
        super().setUp()
        self.bin = pg_bin()
        # The cluster's directory belongs to postgres (initdb insists).
        self.dir = tempfile.mkdtemp(prefix="zbtest-pg-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = zbtest.free_port()
        self.pg("initdb", "-D", self.data, "-A", "trust", "--no-sync")
        self.addCleanup(self.pg_kill)

    def pg(self, tool, *args, timeout=120):
        r = subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(self.bin, tool)] +
                           list(args), capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("%s: %s%s" % (tool, r.stdout, r.stderr))
        return r

    def pg_start(self):
        self.pg("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-o",
                "-p %d -k %s -c listen_addresses=127.0.0.1" % (self.port, self.dir), "start")

    def pg_stop(self):
        """pg_ctl stop -m fast: (seconds it took, wall time it returned)."""
        t0 = time.monotonic()
        self.pg("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        return time.monotonic() - t0, time.time()

    def pg_kill(self):
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(self.bin, "pg_ctl"),
                        "-D", self.data, "-m", "immediate", "stop"], capture_output=True)

    def log_lines(self):
        with open(self.log, errors="replace") as f:
            return f.read().splitlines()

    def stop_with_probe(self, **keys):
        self.pg_start()
        without, _ = self.pg_stop()
        self.pg_start()
        agent = self.probe_agent(self.port, **keys)
        before = len(self.log_lines())
        t0 = time.monotonic()
        zbtest.wait_for(lambda: time.monotonic() - t0 > 4 * INTERVAL, 5, "four more checks")
        # Connecting and closing without a word leaves no line in the log.
        self.assertEqual(self.log_lines()[before:], [])
        start = self.mark()
        took, t_stopped = self.pg_stop()
        self.assertLess(took, without + STOP_NOISE, "pg_ctl stop -m fast: %.2fs with the "
                        "probe, %.2fs without" % (took, without))
        self.assert_down_soon(start, t_stopped)
        self.stop_agent(agent)
        return agent

    def test_fast_stop_is_not_delayed_by_a_connection_only_probe(self):
        self.stop_with_probe()

    def test_check_postgres_is_up_logs_nothing_and_does_not_delay_a_stop(self):
        """check = postgres: an SSLRequest per connection, its one-byte
        answer ('N' here: no TLS configured), then a clean close."""
        agent = self.stop_with_probe(check="postgres")
        self.assertNotIn("bad-response", agent.output())
        rtts = [s["rtt_us"] for m in self.sub.beats() for s in m["msg"]["services"]
                if s["state"] == "up"]
        self.assertTrue(rtts and all(isinstance(r, int) for r in rtts), rtts)

    def test_check_postgres_with_tls_on_logs_at_most_one_line(self):
        """With ssl = on the SSLRequest is answered S, and closing instead
        of a TLS handshake is logged; after that first S the probe asks
        with a GSSENCRequest, answered G or N, which logs nothing."""
        key, crt = os.path.join(self.data, "server.key"), os.path.join(self.data, "server.crt")
        subprocess.run(["openssl", "req", "-new", "-x509", "-days", "1", "-nodes", "-subj",
                        "/CN=localhost", "-keyout", key, "-out", crt], check=True,
                       capture_output=True)
        for path in (key, crt):
            shutil.chown(path, "postgres", "postgres")
        os.chmod(key, 0o600)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("ssl = on\n")
        self.pg_start()
        before = len(self.log_lines())
        agent = self.probe_agent(self.port, check="postgres")
        t0 = time.monotonic()
        zbtest.wait_for(lambda: time.monotonic() - t0 > 6 * INTERVAL, 10, "six more checks")
        new = self.log_lines()[before:]
        self.assertLessEqual(len(new), 1, new)
        self.assertIn("the server has TLS on", agent.output())
        downs = [m for m in self.sub.events() if m["msg"]["to"] == "down"]
        self.assertEqual(downs, [])
        self.stop_agent(agent)

    def test_probe_once_check_postgres(self):
        self.pg_start()
        path = self.write("once.cfg", "service\n    db\n        probe = 127.0.0.1:%d\n"
                          "        check = postgres\n" % self.port)
        rc, out, err = self.run_cmd([self.agent_bin, "-c", path, "--probe-once", "db"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn('send: 8 bytes "\\x00\\x00\\x00\\x08\\x04\\xd2\\x16/"', out)
        self.assertIn('reply: 1 bytes in ', out)
        self.assertIn('"N"', out)
        # The same by flags, without a file.
        rc, out, err = self.run_cmd([self.agent_bin, "--probe-once", "127.0.0.1:%d" % self.port,
                                     "--check", "postgres"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn('send: 8 bytes "\\x00\\x00\\x00\\x08\\x04\\xd2\\x16/"', out)
        self.assertIn("verdict: up (ok)", out)


class AnyReplyServer(zbtest.TcpServer):
    """Answers whatever bytes arrive (no line needed) with reply."""

    def _data(self, sock, record, data):
        try:
            sock.send(self.reply)
        except OSError:
            self._drop(sock, eof=True)


class ChecksTest(AgentCase):
    """check = NAME against servers that are not what the check expects."""

    def test_check_postgres_against_something_else_is_a_bad_response(self):
        server = AnyReplyServer(self, reply=b"-ERR unknown command\r\n")
        agent = self.start_agent([("svc", {"probe": "127.0.0.1:%d" % server.port,
                                           "check": "postgres", "interval": "200ms",
                                           "fails": 1})])
        down = self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                             zbtest.beat_state(m, "svc") == "down", 10, "svc down")
        svc = down["msg"]["services"][0]
        self.assertEqual(svc["reason"], "bad-response")
        self.assertIn('bad response "-ERR unknown', svc["error"])
        self.stop_agent(agent)

    def test_check_redis_preset(self):
        redis = self.redis()
        agent = self.start_agent([("svc", {"probe": "127.0.0.1:%d" % redis.port,
                                           "check": "redis", "interval": "200ms"})])
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      zbtest.beat_state(m, "svc") == "up", 10, "a beat with svc up")
        start = self.mark()
        redis.kill()
        down = self.wait_event("svc", "down", 5, start=start)
        self.assertEqual(down["msg"]["reason"], "refused")  # held: seen at once
        self.stop_agent(agent)


@unittest.skipUnless(shutil.which("memcached", path="/usr/bin"),
                     "memcached is not installed (scripts/deps.sh)")
class MemcachedTest(AgentCase):

    def test_check_memcached_preset(self):
        port = zbtest.free_port()
        server = self.start(["/usr/bin/memcached", "-l", "127.0.0.1", "-p", port, "-U", "0",
                             "-u", "nobody"], "memcached")
        zbtest.wait_for(lambda: zbtest.port_open(port), 10, "memcached listening")
        agent = self.start_agent([("svc", {"probe": "127.0.0.1:%d" % port,
                                           "check": "memcached", "interval": "200ms"})])
        beat = self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                             zbtest.beat_state(m, "svc") == "up", 10, "a beat with svc up")
        self.assertIsInstance(beat["msg"]["services"][0]["rtt_us"], int)
        start = self.mark()
        server.stop(signal.SIGKILL)
        down = self.wait_event("svc", "down", 5, start=start)
        self.assertEqual(down["msg"]["reason"], "refused")
        self.stop_agent(agent)

    def test_check_memcached_against_redis_is_a_bad_response(self):
        redis = self.redis()
        agent = self.start_agent([("svc", {"probe": "127.0.0.1:%d" % redis.port,
                                           "check": "memcached", "interval": "200ms",
                                           "fails": 1})])
        beat = self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                             zbtest.beat_state(m, "svc") == "down", 10, "a beat with svc down")
        self.assertEqual(beat["msg"]["services"][0]["reason"], "bad-response")
        self.stop_agent(agent)


NGINX_CONF = """daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


@unittest.skipUnless(shutil.which("nginx", path="/usr/sbin:/usr/bin"),
                     "nginx is not installed (scripts/deps.sh)")
class NginxTest(GracefulCase):

    def setUp(self):
        super().setUp()
        self.nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin")
        self.port = zbtest.free_port()
        self.conf = self.write("nginx.conf", NGINX_CONF.format(dir=self.tmp, port=self.port))

    def nginx_start(self):
        proc = self.start([self.nginx, "-c", self.conf, "-p", self.tmp], "nginx")
        zbtest.wait_for(lambda: zbtest.port_open(self.port), 10, "nginx listening")
        return proc

    def nginx_quit(self, proc):
        """nginx -s quit: (seconds until the master exits, wall time it
        did)."""
        t0 = time.monotonic()
        proc.send_signal(signal.SIGQUIT)
        proc.wait(90)
        return time.monotonic() - t0, time.time()

    def quit_with_probe(self, **keys):
        without, _ = self.nginx_quit(self.nginx_start())
        proc = self.nginx_start()
        agent = self.probe_agent(self.port, **keys)
        start = self.mark()
        took, t_stopped = self.nginx_quit(proc)
        self.assertLess(took, without + STOP_NOISE, "nginx -s quit: %.2fs with the probe, "
                        "%.2fs without" % (took, without))
        self.assert_down_soon(start, t_stopped)
        self.stop_agent(agent)

    def test_quit_is_not_delayed_by_a_connection_only_probe(self):
        self.quit_with_probe()

    def test_quit_is_not_delayed_by_a_held_keepalive_ping(self):
        self.quit_with_probe(send='"GET / HTTP/1.1\\r\\nHost: zbeat\\r\\n\\r\\n"',
                             expect='"HTTP/1.1 200"', timeout="200ms")


STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"

NGINX_STREAM_CONF = """load_module {module};
daemon off;
worker_processes 1;
pid {dir}/nginx-stream.pid;
error_log {dir}/stream-error.log;
events {{ worker_connections 64; }}
stream {{
    server {{ listen 127.0.0.1:{port}; proxy_pass 127.0.0.1:{upstream}; }}
}}
"""


@unittest.skipUnless(shutil.which("nginx", path="/usr/sbin:/usr/bin") and
                     os.path.exists(STREAM_MODULE),
                     "nginx or its stream module is not installed (libnginx-mod-stream, "
                     "scripts/deps.sh)")
class DrainTest(GracefulCase):
    """A held probe against a service that closes its listener and drains
    the connections it has: nginx's stream proxy (in front of a real redis)
    on `nginx -s quit` keeps every proxied connection open until its client
    ends it. The held connection still answers PING; a fresh connect beside
    it is refused, and that is down. The probe then lets its connection go,
    so nginx is not kept waiting for zbeat."""

    def setUp(self):
        super().setUp()
        self.nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin")
        self.redis_server = self.redis()
        self.port = zbtest.free_port()
        self.conf = self.write("nginx-stream.conf", NGINX_STREAM_CONF.format(
            module=STREAM_MODULE, dir=self.tmp, port=self.port, upstream=self.redis_server.port))

    def nginx_start(self):
        proc = self.start([self.nginx, "-c", self.conf, "-p", self.tmp], "nginx-stream")
        zbtest.wait_for(lambda: zbtest.port_open(self.port), 10, "nginx listening")
        return proc

    def quit_until_refused(self, proc):
        """nginx -s quit, then the wall time (time.time()) its listener was
        seen refusing (nginx closes it a little after the signal, later on
        a loaded machine; the bound is counted from there)."""
        proc.send_signal(signal.SIGQUIT)
        zbtest.wait_for(lambda: not zbtest.port_open(self.port), 5, "nginx's listener closed")
        return time.time()

    def assert_exits(self, proc, agent):
        """nginx ends its drain by itself, while the agent still runs: a
        connection the agent held would keep it going for minutes
        (proxy_timeout)."""
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("nginx still draining %.0fs after its last client left: it waited "
                      "for zbeat" % (10 * zbtest.SLOW))
        self.assertTrue(agent.alive(), "the agent ended before nginx did")

    def test_a_draining_service_is_down_within_two_intervals_of_its_listener_closing(self):
        proc = self.nginx_start()
        agent = self.probe_agent(self.port, check="redis")
        # A client of the test's own, through the proxy: nginx drains it
        # (stays up, serving it) after quit, for as long as it is open.
        client = socket.create_connection(("127.0.0.1", self.port), timeout=5 * zbtest.SLOW)
        self.addCleanup(client.close)
        client.sendall(b"PING\r\n")
        self.assertEqual(client.recv(16), b"+PONG\r\n")
        start = self.mark()
        t_closed = self.quit_until_refused(proc)
        down = self.wait_event("svc", "down", 5, start=start)
        self.assertEqual(down["msg"]["reason"], "refused")
        self.assertIn("the held one was still open", down["msg"]["error"])
        late = zbtest.at_s(down) - t_closed
        self.assertLess(late, 2 * INTERVAL + SLACK, "down %.3fs after nginx's listener closed"
                        % late)
        # Still draining: nginx serves the test's client, and is running.
        client.sendall(b"PING\r\n")
        self.assertEqual(client.recv(16), b"+PONG\r\n")
        self.assertIsNone(proc.proc.poll(), "nginx exited before its client left")
        # The probe holds nothing open: once the test's client goes, nginx
        # is done (while the agent still runs).
        client.close()
        self.assert_exits(proc, agent)
        self.stop_agent(agent)

    def test_probes_of_one_address_share_the_check_and_all_go_down(self):
        """Three held probes of one address make one bare connect per
        interval between them, and the refusal one of them sees is down
        for all three within two intervals."""
        proc = self.nginx_start()
        names = ["a", "b", "c"]
        agent = self.start_agent([(n, {"probe": "127.0.0.1:%d" % self.port, "check": "redis",
                                       "interval": "%dms" % (INTERVAL * 1000)}) for n in names])
        self.wait_subscribed()
        self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                      all(zbtest.beat_state(m, n) == "up" for n in names), 10, "all up")
        start = self.mark()
        t_closed = self.quit_until_refused(proc)
        for n in names:
            down = self.wait_event(n, "down", 5, start=start)
            self.assertEqual(down["msg"]["reason"], "refused")
            late = zbtest.at_s(down) - t_closed
            self.assertLess(late, 2 * INTERVAL + SLACK, "%s down %.3fs after nginx's listener "
                            "closed" % (n, late))
        self.assert_exits(proc, agent)
        self.stop_agent(agent)

    def test_without_the_listener_check_the_drain_looks_up(self):
        """listener-check = no: what the check is for. The held connection
        keeps answering through the drain, the service stays up, and nginx
        waits for the agent's connection."""
        proc = self.nginx_start()
        agent = self.probe_agent(self.port, check="redis", **{"listener-check": "no"})
        self.quit_until_refused(proc)
        t_quit = time.monotonic()
        zbtest.wait_for(lambda: time.monotonic() - t_quit > 4 * INTERVAL, 5, "four intervals")
        self.assertEqual([m for m in self.sub.events() if m["msg"]["service"] == "svc" and
                          m["t"] > t_quit], [])
        self.assertIsNone(proc.proc.poll(), "nginx exited while the probe held its connection")
        self.stop_agent(agent)
        proc.wait(10)


if __name__ == "__main__":
    zbtest.main()
