"""zbeat-agent with discover = docker against the real Docker Engine (issue 19).

The agent runs on this machine's network (as one agent per Docker host with
network_mode: host does) and reads the engine's API through a unix-socket
forwarder the test controls, so it can cut the API off. The containers are a
compose project of its own (a labelled redis, an unlabelled one, a labelled
worker to scale) on a network with a fixed subnet, so a squatter can take a
stopped container's address. Skips when no engine (or no docker-compose) is
there; the redis image is docker/demo-redis, built from the local base image
(docker/base-image.sh) when missing: the e2e suite builds the same layers.
"""

import calendar
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

import zbtest
from agent_helpers import AgentCase

ROOT = os.environ.get("ZB_SOURCE_DIR",
                      os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
IMAGE = "zbeat-docker-test-redis:local"
PROJECT = "zbdocker%d" % os.getpid()
SUBNET = "10.213.%d" % (os.getpid() % 200 + 20)
REDIS_CMD = '["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""]'

COMPOSE = """
services:
  redis:
    image: %(image)s
    command: %(cmd)s
    labels: {zbeat.check: redis, zbeat.interval: 500ms, zbeat.timeout: 200ms}
    networks: [net]
  plain:
    image: %(image)s
    command: %(cmd)s
    networks: [net]
  worker:
    image: %(image)s
    command: %(cmd)s
    labels: {zbeat.probe: "6379", zbeat.send: "PING\\\\r\\\\n", zbeat.expect: "+PONG"}
    stop_grace_period: 5s
    networks: [net]
networks:
  net:
    ipam:
      config: [{subnet: "%(subnet)s.0/24"}]
""" % {"image": IMAGE, "cmd": REDIS_CMD, "subnet": SUBNET}


def run(*args, timeout=120, check=True):
    r = subprocess.run([str(a) for a in args], capture_output=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d: %s" % (" ".join(map(str, args)), r.returncode,
                                                  r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout.decode(errors="replace").strip()


def engine():
    """Why the test cannot run, or None."""
    if not shutil.which("docker"):
        return "no docker CLI"
    try:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode:
            return "no Docker engine reachable"
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if not shutil.which("docker-compose"):
        return "no docker-compose"
    return None


class Forwarder:
    """A unix socket that forwards every connection to the engine's socket,
    until cut(): then every connection is closed and new ones are refused
    (closed at once) until restore()."""

    def __init__(self, path, target="/var/run/docker.sock"):
        self.path, self.target = path, target
        self.lock = threading.Lock()
        self.socks = []
        self.cut_off = False
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                if self.cut_off:
                    client.close()
                    continue
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(self.target)
                self.socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            self.cut_off = True
            for s in self.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.socks = []

    def restore(self):
        with self.lock:
            self.cut_off = False

    def close(self):
        self.cut()
        self.server.close()


@unittest.skipIf(engine(), "docker: %s" % engine())
class AgentDockerTest(AgentCase):

    @classmethod
    def setUpClass(cls):
        if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
            run(os.path.join(ROOT, "docker", "base-image.sh"), timeout=600)
            run("docker", "build", "-q", "-t", IMAGE, os.path.join(ROOT, "docker", "demo-redis"),
                timeout=600)

    def setUp(self):
        super().setUp()
        self.compose_file = self.write("compose.yml", COMPOSE)
        self.proxy = Forwarder(os.path.join(self.tmp, "docker.sock"))

    def tearDown(self):
        # Before the base class removes the temp dir, which holds the
        # compose file that `down` needs.
        self.proxy.close()
        self.down()
        super().tearDown()

    def compose(self, *args, timeout=120):
        return run("docker-compose", "-p", PROJECT, "-f", self.compose_file, *args,
                   timeout=timeout)

    def down(self):
        subprocess.run(["docker", "rm", "-fv", PROJECT + "-hog", PROJECT + "-squatter",
                        PROJECT + "-doc"],
                       capture_output=True)
        r = subprocess.run(["docker-compose", "-p", PROJECT, "-f", self.compose_file, "down",
                            "-v", "-t", "1"], capture_output=True, timeout=120)
        if r.returncode != 0:
            sys.stderr.write("docker-compose down failed: %s\n" % r.stderr.decode()[-1000:])

    def cid(self, service, index=1):
        ids = self.compose("ps", "-q", service).split()
        for i in ids:
            number = run("docker", "inspect", "-f",
                         '{{index .Config.Labels "com.docker.compose.container-number"}}', i)
            if number == str(index):
                return i
        raise AssertionError("no container %s #%d" % (service, index))

    def ip(self, container):
        return run("docker", "inspect", "-f",
                   "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container)

    def state_time(self, container, field):
        """A container's .State time (StartedAt, FinishedAt) in seconds of
        wall time, as time.time() and zbtest.at_s give it."""
        text = run("docker", "inspect", "-f", "{{.State.%s}}" % field, container)
        # RFC 3339 in UTC with up to nanoseconds: 2026-12-06T12:07:13.981349761Z
        whole, _, frac = text.rstrip("Z").partition(".")
        return (calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) +
                float("0." + (frac or "0")))

    def start_docker_agent(self):
        path = self.write("agent.cfg", "\n".join([
            "agent", "    name = dock", "    monitor = %s" % self.sub.endpoint,
            "    beat = 200ms", "    discover = docker",
            "    docker = unix://%s" % self.proxy.path,
            "    discover-filter = label=com.docker.compose.project=%s" % PROJECT,
            "service", "    static", "        probe = 127.0.0.1:%d" % zbtest.free_port(), ""]))
        self.agent = self.start([self.agent_bin, "-c", path, "-v"], "agent")
        self.wait_subscribed()

    def beat_service(self, name):
        """The service in the latest beat, or None."""
        for m in reversed(self.sub.beats()):
            for s in m["msg"]["services"]:
                if s["name"] == name:
                    return s
            return None
        return None

    def events_of(self, name, start):
        """The events of service name from message start on."""
        return [m["msg"] for m in self.sub.messages()[start:]
                if m["msg"].get("type") == "event" and m["msg"].get("service") == name]

    def wait_beat(self, name, pred, timeout, what):
        return zbtest.wait_for(lambda: (lambda s: s if s and pred(s) else None)(
            self.beat_service(name)), timeout, what)

    def test_docker(self):
        self.compose("up", "-d", "redis", "plain", "worker")
        self.start_docker_agent()
        redis_id = self.cid("redis")

        # A labelled redis is up without a service entry; the unlabelled one
        # is not watched; the static service carries on beside them.
        redis = self.wait_beat("redis", lambda s: s["state"] == "up", 20, "redis up in beats")
        self.assertEqual(redis["kind"], "docker")
        self.assertEqual(redis["container"], redis_id[:12])
        self.assertEqual(redis["addr"], "%s:6379" % self.ip(redis_id))
        self.wait_beat("worker", lambda s: s["state"] == "up", 20, "worker up")
        names = [s["name"] for s in self.sub.beats()[-1]["msg"]["services"]]
        self.assertEqual(sorted(names), ["redis", "static", "worker"])
        self.assertEqual(self.beat_service("static")["kind"], "probe")

        # docker-compose stop: stopped (docker-stop), never down.
        start = self.mark()
        self.compose("stop", "redis")
        stopped = self.wait_event("redis", "stopped", 15, start=start)
        self.assertEqual(stopped["msg"]["reason"], "docker-stop")
        self.assertEqual(stopped["msg"]["from"], "up")
        self.assertEqual([e["to"] for e in self.events_of("redis", start)], ["stopped"])
        start = self.mark()
        self.compose("start", "redis")
        self.wait_event("redis", "up", 10, start=start)

        # docker kill: down at once, the exit named. Only Docker's die event
        # says "exited 137": after the kill event the probe's verdicts are
        # set aside for a minute (ZB_DISCOVER_ENDING_MAX_MS), far past this
        # wait, and would say refused. On the agent's clock, against the
        # exit time Docker recorded, it is generous (the CLI, dockerd, the
        # forwarder's threads and the agent all wake up in between).
        start = self.mark()
        run("docker", "kill", redis_id)
        down = self.wait_event("redis", "down", 10, start=start)
        self.assertEqual(down["msg"]["reason"], "exited 137")
        exited = self.state_time(redis_id, "FinishedAt")
        self.assertLess(zbtest.at_s(down) - exited, 3.0 * zbtest.SLOW,
                        "down %.3fs after the container exited" % (zbtest.at_s(down) - exited))
        self.assertEqual([e["to"] for e in self.events_of("redis", start)], ["down"])
        start = self.mark()
        self.compose("start", "redis")
        self.wait_event("redis", "up", 10, start=start)

        # Recreated with a squatter on the old address: up at the new one,
        # never from the squatter.
        old_ip = self.ip(redis_id)
        start = self.mark()
        self.compose("stop", "redis")
        self.wait_event("redis", "stopped", 15, start=start)
        after_stop = self.mark()
        run("docker", "run", "-d", "--name", PROJECT + "-squatter", "--network", PROJECT + "_net",
            "--ip", old_ip, IMAGE, *json.loads(REDIS_CMD))
        zbtest.wait_for(lambda: self._pong(PROJECT + "-squatter"), 10, "the squatter answers")
        mid = self.mark()
        self.compose("up", "-d", "--force-recreate", "redis")
        # No periodic resync: only the new container's start event finds it.
        up = self.wait_event("redis", "up", 10, start=mid)
        new_id = self.cid("redis")
        new_ip = self.ip(new_id)
        self.assertNotEqual(new_ip, old_ip)
        # Up by the agent's clock only after the new container started:
        # the probe of the new address said it, not one of the squatter.
        started = self.state_time(new_id, "StartedAt")
        self.assertGreaterEqual(zbtest.at_s(up), started - 0.01,
                                "up %.3fs before the new container started" %
                                (started - zbtest.at_s(up)))
        redis = self.wait_beat("redis", lambda s: s["state"] == "up" and s["container"] ==
                               new_id[:12], 5, "a beat with the new container")
        self.assertEqual(redis["addr"], "%s:6379" % new_ip)
        for m in self.sub.messages()[after_stop:]:
            for s in m["msg"].get("services", []):
                if s["name"] == "redis" and s["state"] == "up" and m["t"] < up["t"]:
                    self.fail("redis up before the new container was: %s" % s)
                if s["name"] == "redis" and s["state"] == "up":
                    self.assertNotEqual(s.get("addr"), "%s:6379" % old_ip)
        self.assertNotIn("down", [e["to"] for e in self.events_of("redis", start)])
        run("docker", "rm", "-f", PROJECT + "-squatter")

        # --scale worker=3: three services; back to 1: two stopped, not down.
        start = self.mark()
        self.compose("up", "-d", "--no-recreate", "--scale", "worker=3", "worker")
        self.wait_event("worker-2", "up", 20, start=start)
        self.wait_event("worker-3", "up", 20, start=start)
        self.compose("up", "-d", "--no-recreate", "--scale", "worker=1", "worker")
        for name in ("worker-2", "worker-3"):
            ev = self.wait_event(name, "stopped", 20, start=start)
            self.assertEqual(ev["msg"]["reason"], "docker-stop")
            self.assertNotIn("down", [e["to"] for e in self.events_of(name, start)])
        self.assertEqual(self.beat_service("worker")["state"], "up")

        # The API cut off: probing carries on, no event; a container started
        # meanwhile is found at the resync; nothing went down.
        start = self.mark()
        self.proxy.cut()
        zbtest.wait_for(lambda: "docker: " in self.agent.output() and "reconnecting" in
                        self.agent.output(), 10, "the agent notices the API is gone")
        self.compose("up", "-d", "--no-recreate", "--scale", "worker=2", "worker")
        # A dwell, not a synchronisation: nothing may change while the API is
        # away (no event to wait for); the agent retries meanwhile.
        time.sleep(1.5)
        seen = self.beat_service("worker-2")
        self.assertTrue(seen is None or seen["state"] != "up", "worker-2 seen while cut off")
        self.proxy.restore()
        self.wait_event("worker-2", "up", 20, start=start)
        # The reader thread logs it after handing the list to the loop,
        # which may probe worker-2 and publish its event first.
        zbtest.wait_for(lambda: "resynced" in self.agent.output(), 10, "the resync logged")
        for m in self.sub.messages()[start:]:
            if m["msg"].get("type") == "event" and m["msg"]["service"] != "worker-2":
                self.fail("an event across the API's outage: %s" % m["msg"])
        self.assertEqual(self.beat_service("redis")["state"], "up")

        # A container under a small memory limit allocating past it.
        start = self.mark()
        run("docker", "run", "-d", "--name", PROJECT + "-hog", "--network", PROJECT + "_net",
            "-l", "com.docker.compose.project=" + PROJECT, "-l", "zbeat.check=redis",
            "-l", "zbeat.name=hog", "-m", "32m", "--memory-swap", "32m", IMAGE, "sh", "-c",
            "redis-server --bind 0.0.0.0 --protected-mode no --save '' & "
            "while [ ! -e /tmp/go ]; do sleep 0.1; done; exec tail /dev/zero")
        self.wait_event("hog", "up", 20, start=start)
        run("docker", "exec", PROJECT + "-hog", "touch", "/tmp/go")
        self.wait_event("hog", "down", 30, start=start)
        # The kill resets the probe's connection too: on a loaded machine
        # its refused reconnect can be the down event, before Docker's die
        # event (OOMKilled) arrives. The service's reason then turns to
        # oom-killed without another event: the beats carry it.
        self.wait_beat("hog", lambda s: s["state"] == "down" and s["reason"] == "oom-killed",
                       10, "hog down, oom-killed, in a beat")
        self.assertEqual([e["to"] for e in self.events_of("hog", start)], ["up", "down"])

        # A removed container's service goes.
        start = self.mark()
        run("docker", "rm", "-f", PROJECT + "-hog")
        self.wait_event("hog", "removed", 10, start=start)

        # zbeat.health = yes: Docker's healthcheck saying unhealthy is down,
        # though redis answers; healthy again is up.
        start = self.mark()
        run("docker", "run", "-d", "--name", PROJECT + "-doc", "--network", PROJECT + "_net",
            "-l", "com.docker.compose.project=" + PROJECT, "-l", "zbeat.check=redis",
            "-l", "zbeat.name=doc", "-l", "zbeat.health=yes",
            "--health-cmd", "test ! -e /tmp/sick", "--health-interval", "1s",
            "--health-retries", "1", IMAGE, *json.loads(REDIS_CMD))
        self.wait_event("doc", "up", 20, start=start)
        run("docker", "exec", PROJECT + "-doc", "touch", "/tmp/sick")
        down = self.wait_event("doc", "down", 15, start=start)
        self.assertEqual(down["msg"]["reason"], "docker-health")
        mid = self.mark()
        run("docker", "exec", PROJECT + "-doc", "rm", "/tmp/sick")
        self.wait_event("doc", "up", 15, start=mid)
        self.assertEqual([e["to"] for e in self.events_of("doc", start)], ["up", "down", "up"])
        self.stop_agent(self.agent)

    def _pong(self, container):
        r = subprocess.run(["docker", "exec", container, "redis-cli", "ping"],
                           capture_output=True)
        return r.returncode == 0 and b"PONG" in r.stdout


if __name__ == "__main__":
    unittest.main()
