"""Probes by name follow the service (issue 16, point 1).

Each test runs the agent and its services in a network namespace of its
own: `ip netns exec NS` bind-mounts /etc/netns/NS/hosts over /etc/hosts, so
rewriting that file in place (same inode) moves a name for every process in
the namespace at once, with no DNS server. /etc/netns/NS/resolv.conf points
at 127.0.0.1, where nothing answers DNS: a name missing from the hosts file
fails fast instead of waiting on a real server. Servers listen on 127.0.0.2
and 127.0.0.3 to play two hosts. The agent publishes to an ipc:// endpoint,
a file path, which a SUB outside the namespace can bind."""

import os
import signal
import subprocess
import sys
import time
import unittest

import zbtest
from agent_helpers import AgentCase, REDIS_PING, agent_config

# A service for one address: answers every read with REPLY and holds the
# connection; prints "accept from PORT" per connection, "ping from PORT" per
# read and "closed from PORT" when the peer closed (after what it sent).
# SIGUSR1 closes the listening socket and keeps serving the connections it
# has (a graceful stop's drain), then prints "stopped accepting".
SERVER = r"""
import selectors, signal, socket, sys
host, port, reply = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode() + b"\r\n"
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(64)
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ)
def stop_accepting(signum, frame):
    sel.unregister(s)
    s.close()
    print("stopped accepting", flush=True)
signal.signal(signal.SIGUSR1, stop_accepting)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        if key.fileobj is s:
            conn, peer = s.accept()
            print("accept from", peer[1], flush=True)
            sel.register(conn, selectors.EVENT_READ, peer[1])
            continue
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if not data:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            print("closed from", key.data, flush=True)
            continue
        print("ping from", key.data, flush=True)
        try:
            key.fileobj.sendall(reply)
        except OSError:
            pass
"""


def netns_available():
    if os.geteuid() != 0:
        return False, "needs root (ip netns)"
    name = "zbn%d-probe" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        return False, "ip netns: " + r.stderr.strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return True, ""


AVAILABLE, WHY = netns_available()


@unittest.skipUnless(AVAILABLE, WHY)
class NamesCase(AgentCase):

    def setUp(self):
        zbtest.TestCase.setUp(self)
        self.agent_bin = zbtest.bin("zbeat-agent")
        self.ns = "zbn%d-%s" % (os.getpid(), self._testMethodName[-12:])
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        self.etc = "/etc/netns/%s" % self.ns
        os.makedirs(self.etc, exist_ok=True)
        self.addCleanup(self._remove_etc)
        with open(os.path.join(self.etc, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\n")
        self.set_hosts(None)
        self.sub = zbtest.Sub(self, "ipc://%s/sub.ipc" % self.tmp)
        self.server_py = self.write("server.py", SERVER)
        self.port = zbtest.free_port()

    def _remove_etc(self):
        for name in ("hosts", "resolv.conf"):
            try:
                os.unlink(os.path.join(self.etc, name))
            except FileNotFoundError:
                pass
        os.rmdir(self.etc)

    def set_hosts(self, address):
        """svc resolves to address (None: svc is not in the file). The file
        is rewritten in place: the bind mount is of this inode."""
        text = "127.0.0.1 localhost\n" + ("%s svc\n" % address if address else "")
        path = os.path.join(self.etc, "hosts")
        with open(path, "r+" if os.path.exists(path) else "w") as f:
            f.truncate(0)
            f.write(text)

    def in_ns(self, args):
        return ["ip", "netns", "exec", self.ns] + [str(a) for a in args]

    def server(self, address, reply="+PONG", name=None):
        proc = self.start(self.in_ns([sys.executable, self.server_py, address, self.port, reply]),
                          name or "server-%s" % address)
        zbtest.wait_for(lambda: "ready" in proc.output(), 5, "server on %s" % address)
        return proc

    def agent(self, keys, args=(), more=()):
        path = self.agent_cfg(keys, more)
        return self.start(self.in_ns([self.agent_bin, "-c", path, "-v"] + list(args)), "agent")

    def agent_cfg(self, keys, more=()):
        # The servers are Python processes on a loaded machine: a reply may
        # be late by far more than a C server's, and one later than the
        # timeout closes the connection (a reconnect the tests would see).
        # fails = 2: a ping cut off by a server killed while it was due is
        # no outage; refused (nothing listens) is down at once all the same.
        probe = dict(REDIS_PING, probe="svc:%d" % self.port, interval="500ms",
                     timeout="400ms", fails=2)
        probe.update(keys)
        probe = {k: v for k, v in probe.items() if v is not None}
        return self.write("agent.cfg", agent_config(self.sub.endpoint,
                                                    [("svc", probe)] + list(more), beat="100ms"))

    def beat_svc(self, pred, timeout, what, start=0):
        """The svc entry of the first beat (from index start) it satisfies."""
        def find():
            for m in self.sub.beats()[start:]:
                for s in m["msg"]["services"]:
                    if s["name"] == "svc" and pred(s):
                        return s
            return None
        return zbtest.wait_for(find, timeout, what)

    def svc_events(self, start, to):
        """svc's events to `to` from message index start (a mark())."""
        return [m for m in self.sub.messages()[start:] if zbtest.is_event("svc", to)(m)]

    def assert_moved_up(self, agent, start):
        """The agent says svc moved from 127.0.0.2 to 127.0.0.3, a beat
        from now on has it up there, and it was never down since start."""
        svc = self.beat_svc(lambda s: s.get("addr") == "127.0.0.3:%d" % self.port, 5,
                            "a beat with the new address", start=len(self.sub.beats()))
        self.assertEqual(svc["state"], "up")
        self.assert_never_down(start)
        self.assertIn("moved from 127.0.0.2:%d to 127.0.0.3:%d" % (self.port, self.port),
                      agent.output())

    def assert_never_down(self, start):
        """No event took svc down, and every beat said up, since start."""
        self.assertEqual(self.svc_events(start, "down"), [],
                         "the old address's refusal made the service down")
        states = {zbtest.beat_state(m, "svc") for m in self.sub.messages()[start:]
                  if m["msg"].get("type") == "beat"}
        self.assertEqual(states, {"up"})

    def test_unresolved_at_start_is_down_dns_then_up_without_restart(self):
        agent = self.agent({})
        svc = self.beat_svc(lambda s: s["state"] == "down", 10, "svc down in a beat")
        self.assertEqual(svc["reason"], "dns")
        self.assertIn('cannot resolve "svc"', svc["error"])
        self.assertNotIn("addr", svc)  # never resolved: no address in use
        self.assertTrue(agent.alive(), "the agent runs with a name that does not resolve")
        self.server("127.0.0.2")
        self.set_hosts("127.0.0.2")
        start = self.mark()
        self.wait_event("svc", "up", 5, start=start)
        svc = self.beat_svc(lambda s: s["state"] == "up", 5, "svc up in a beat",
                            start=len(self.sub.beats()))
        self.assertEqual(svc["addr"], "127.0.0.2:%d" % self.port)
        self.stop_agent(agent)

    def test_service_moves_and_the_old_address_is_left_behind(self):
        """The held connection breaks when the service leaves 127.0.0.2;
        the reconnect looks the name up again and finds it on 127.0.0.3
        at once, long before the answer's 5 s (the least an /etc/hosts
        answer is kept), without a SIGHUP. Another server that takes the
        old address afterwards is never connected to."""
        old = self.server("127.0.0.2")
        self.set_hosts("127.0.0.2")
        agent = self.agent({})
        svc = self.beat_svc(lambda s: s["state"] == "up", 10, "svc up")
        self.assertEqual(svc["addr"], "127.0.0.2:%d" % self.port)
        new = self.server("127.0.0.3")
        self.set_hosts("127.0.0.3")
        t_moved = time.monotonic()
        old.stop(signal.SIGKILL)
        zbtest.wait_for(lambda: "ping" in new.output(), 5, "a ping at the new address")
        took = time.monotonic() - t_moved
        # Measured before the intruder starts (a Python start-up); the
        # bound tells "at the break" from "when the answer ran out" (a
        # reconnect to the old address is refused: the down checked below).
        self.assertLess(took, min(2.0 * zbtest.SLOW, 4.0),
                        "the probe reached the new address in %.3fs" % took)
        intruder = self.server("127.0.0.2", reply="-ERR not the service", name="intruder")
        svc = self.beat_svc(lambda s: s.get("addr") == "127.0.0.3:%d" % self.port, 5,
                            "a beat with the new address", start=len(self.sub.beats()))
        self.assertEqual(svc["state"], "up")
        # Three more pings at the new address with the intruder listening
        # (listener checks beside them): still up, nothing ever
        # asked the intruder.
        pings = new.output().count("ping")
        zbtest.wait_for(lambda: new.output().count("ping") >= pings + 3, 5,
                        "three more pings at the new address")
        downs = [m for m in self.sub.events() if m["msg"]["to"] == "down"]
        self.assertEqual(downs, [], "a move is no outage")
        self.assertNotIn("accept", intruder.output())
        self.assertIn("moved from 127.0.0.2:%d to 127.0.0.3:%d" % (self.port, self.port),
                      agent.output())
        self.stop_agent(agent)

    def test_a_move_is_no_outage_while_the_old_server_drains(self):
        """The name moves to 127.0.0.3 as the old server on 127.0.0.2 stops
        gracefully: it stops accepting, still answers the held
        connection's pings, and is killed later. The listener check beside
        the next ping is refused at the old address, which is not the
        service any more: the name is looked up again and the probe moves,
        never down. resolve = 1h: the answer cannot run out during the
        test, so it is the refusal that moves the probe (the same ordering
        as a killed server whose close the agent has not read yet, made
        certain)."""
        old = self.server("127.0.0.2")
        self.set_hosts("127.0.0.2")
        agent = self.agent({"resolve": "1h"})
        self.beat_svc(lambda s: s["state"] == "up", 10, "svc up")
        new = self.server("127.0.0.3")
        start = self.mark()
        self.set_hosts("127.0.0.3")
        old.send_signal(signal.SIGUSR1)
        zbtest.wait_for(lambda: "stopped accepting" in old.output(), 5, "the old server drains")
        zbtest.wait_for(lambda: "ping" in new.output(), 5, "a ping at the new address")
        zbtest.wait_for(lambda: "closed from" in old.output(), 5,
                        "the agent let the old server's connection go")
        old.stop(signal.SIGKILL)
        pings = new.output().count("ping")
        zbtest.wait_for(lambda: new.output().count("ping") >= pings + 3, 5,
                        "three more pings at the new address")
        self.assert_moved_up(agent, start)
        self.stop_agent(agent)

    def test_a_check_without_hold_follows_a_move_without_a_down(self):
        """hold = no: each check connects, to the address kept from the
        last lookup (resolve = 1h keeps it). The name moves as the old
        server is killed: the next connect is refused at the old address,
        the name is looked up again, and the check is made at the new
        one, with no down."""
        old = self.server("127.0.0.2")
        self.set_hosts("127.0.0.2")
        agent = self.agent({"resolve": "1h", "hold": "no", "send": None, "expect": None})
        self.beat_svc(lambda s: s["state"] == "up", 10, "svc up")
        new = self.server("127.0.0.3")
        start = self.mark()
        self.set_hosts("127.0.0.3")
        old.stop(signal.SIGKILL)
        zbtest.wait_for(lambda: new.output().count("accept") >= 3, 5,
                        "three checks at the new address")
        self.assert_moved_up(agent, start)
        self.stop_agent(agent)

    def test_a_server_answering_at_the_old_address_never_makes_it_up(self):
        """The name moves to 127.0.0.3, where nothing listens yet, while
        the old server on 127.0.0.2 keeps its connection and keeps
        answering: the re-lookup (resolve = 1s) moves the probe away from
        it, and the service is down until the new address answers."""
        self.old_address_left_behind({"resolve": "1s"})

    def test_a_held_connection_only_probe_moves_too(self):
        """The same without pings: hold = yes on a connection-only probe
        looks the name up again when resolve runs out."""
        self.old_address_left_behind({"resolve": "1s", "hold": "yes", "send": None,
                                      "expect": None})

    def old_address_left_behind(self, keys):
        old = self.server("127.0.0.2")
        self.set_hosts("127.0.0.2")
        agent = self.agent(keys)
        self.beat_svc(lambda s: s["state"] == "up", 10, "svc up")
        start = self.mark()
        self.set_hosts("127.0.0.3")
        t_moved = time.monotonic()
        down = self.wait_event("svc", "down", 5, start=start)
        self.assertEqual(down["msg"]["reason"], "refused")
        # The answer ran out after resolve (1 s), looked up again at the
        # next ping (or at once, held without pings): tells resolve = 1s
        # from the 5 s an /etc/hosts answer is otherwise kept.
        self.assertLess(down["t"] - t_moved, 1.0 + 2 * 0.5 + min(zbtest.SLOW, 1.5))
        # What the agent sent before it moved (the ping the lookup went
        # out beside, a listener check) may reach the old server after the
        # down: counted once the old server saw every connection close.
        def settled():
            out = old.output()
            return out.count("accept from ") == out.count("closed from ")
        zbtest.wait_for(settled, 5, "the old server saw the agent's connections close")
        pings = old.output().count("ping")
        accepts = old.output().count("accept")
        # Two seconds of the old server listening and answering: still down.
        t_settled = time.monotonic()
        zbtest.wait_for(lambda: time.monotonic() - t_settled > 2.0, 5, "2 s more")
        ups = self.svc_events(start, "up")
        self.assertEqual(ups, [], "the old address made the service up")
        self.assertEqual(old.output().count("ping"), pings, "the old server was pinged")
        self.assertEqual(old.output().count("accept"), accepts, "the old server was connected to")
        self.server("127.0.0.3")
        self.wait_event("svc", "up", 5, start=start)
        svc = self.beat_svc(lambda s: s["state"] == "up", 5, "svc up again",
                            start=len(self.sub.beats()))
        self.assertEqual(svc["addr"], "127.0.0.3:%d" % self.port)
        self.stop_agent(agent)

    def test_reload_takes_a_name_that_does_not_resolve(self):
        """A reload resolves nothing itself: a new service whose name does
        not resolve is added (down, dns) instead of the reload being
        rejected, and a probe whose target is unchanged keeps its
        connection."""
        server = self.server("127.0.0.2")
        self.set_hosts("127.0.0.2")
        agent = self.agent({})
        self.beat_svc(lambda s: s["state"] == "up", 10, "svc up")
        def ping_ports():
            return {line.split()[-1] for line in server.output().splitlines()
                    if line.startswith("ping from ")}
        held = ping_ports()
        self.assertEqual(len(held), 1, server.output())
        self.agent_cfg({}, more=[("other", {"probe": "nowhere:1", "interval": "200ms"})])
        agent.send_signal(signal.SIGHUP)
        zbtest.wait_for(lambda: "reloaded" in agent.output(), 5, "the reload")
        self.assertIn("1 added", agent.output())
        m = self.sub.wait(lambda m: m["msg"]["type"] == "beat" and
                          zbtest.beat_state(m, "other") == "down", 5, "other down in a beat")
        other = [s for s in m["msg"]["services"] if s["name"] == "other"][0]
        self.assertEqual(other["reason"], "dns")
        self.assertEqual(zbtest.beat_state(m, "svc"), "up")
        # Every ping still came over the one connection held before the
        # reload (the fresh connects beside it carry no ping).
        self.assertEqual(ping_ports(), held, "svc reconnected")
        self.stop_agent(agent)

    def test_check_config_warns_and_probe_once_resolves(self):
        path = self.write("check.cfg", agent_config("tcp://127.0.0.1:9", [
            ("svc", dict(REDIS_PING, probe="svc:%d" % self.port)),
            ("lit", {"probe": "127.0.0.1:%d" % self.port})]))
        rc, out, err = self.run_cmd(self.in_ns([self.agent_bin, "-c", path, "--check-config"]))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "%s: ok\n" % path)
        self.assertIn("service/svc/probe: warning: cannot resolve \"svc\"", err)
        self.assertNotIn("service/lit", err)
        rc, out, err = self.run_cmd(self.in_ns([self.agent_bin, "-c", path, "--probe-once",
                                                "svc"]))
        self.assertEqual(rc, 1, out + err)
        self.assertIn("(not resolved)", out)
        self.assertIn("verdict: down (dns: cannot resolve \"svc\"", out)
        self.server("127.0.0.2")
        self.set_hosts("127.0.0.2")
        rc, out, err = self.run_cmd(self.in_ns([self.agent_bin, "-c", path, "--check-config"]))
        self.assertEqual((rc, err), (0, ""))
        rc, out, err = self.run_cmd(self.in_ns([self.agent_bin, "--probe-once",
                                                "svc:%d" % self.port, "--send", "PING\\r\\n",
                                                "--expect", "+PONG"]))
        self.assertEqual(rc, 0, out + err)
        self.assertIn("probe svc:%d (127.0.0.2:%d)" % (self.port, self.port), out)
        self.assertIn("resolve: 127.0.0.2:%d in " % self.port, out)


if __name__ == "__main__":
    zbtest.main()
