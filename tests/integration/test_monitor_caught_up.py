"""Is the monitor running, and caught up? (issue 11, docs/operations.md):
`zbeat status`'s first line, `zbeat monitor` and `zbeat hosts` from the
monitor's row (schema 5) and the replay reports agents send. Real monitor,
real agent; the replay channel runs through a proxy that can hold back the
monitor's acknowledgements, so that "behind" lasts as long as the test
wants, not a few milliseconds."""

import json
import selectors
import signal
import socket
import threading

import zbtest
from fault_helpers import FaultCase, journal_agent_config, journal_events
from monitor_helpers import parse_rfc3339_ms


class HoldProxy:
    """TCP proxy from its own port to target_port. hold(True) holds back
    what flows from the target to the client (the monitor's ACKs, PONGs)
    once the ZMTP handshake is through (the 64-byte greeting and one
    command); hold(False) lets it all go. The other way always flows."""

    def __init__(self, case, target_port):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.holding = False
        self.pairs = []  # [client, server, head (first bytes to the client), passed, held]
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        case.addCleanup(self.close)

    def hold(self, on):
        with self.lock:
            self.holding = on

    @staticmethod
    def _handshake_end(data):
        """Where the greeting and the first command end in the first bytes
        sent to the client, or None while they are incomplete."""
        if len(data) < 66:
            return None
        if data[64] & 0x02:  # a long frame: 8 bytes of size
            return 73 + int.from_bytes(data[65:73], "big") if len(data) >= 73 else None
        return 66 + data[65]

    def _flush(self, pair):
        """Sends what may go to the client now. Lock held."""
        client, _, head, passed, held = pair
        if not held:
            return
        n = len(held)
        if self.holding:
            end = self._handshake_end(bytes(head) + bytes(held[:128]))
            if end is not None:  # only the rest of the handshake goes
                n = min(n, max(0, end - passed))
        if n == 0:
            return
        try:
            client.sendall(bytes(held[:n]))
        except OSError:
            pass
        if len(head) < 128:
            head += held[:128 - len(head)]
        pair[3] += n
        del held[:n]

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, None)
        while not self.stopping:
            for key, _ in sel.select(0.01):
                if key.data is None:
                    client, _ = self.listener.accept()
                    try:
                        server = socket.create_connection(("127.0.0.1", self.target_port))
                    except OSError:  # the monitor is down: so is the way to it
                        client.close()
                        continue
                    pair = [client, server, bytearray(), 0, bytearray()]
                    with self.lock:
                        self.pairs.append(pair)
                    sel.register(client, selectors.EVENT_READ, (pair, True))
                    sel.register(server, selectors.EVENT_READ, (pair, False))
                    continue
                pair, from_client = key.data
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    for s in pair[:2]:
                        try:
                            sel.unregister(s)
                        except (KeyError, ValueError):
                            pass
                        s.close()
                    with self.lock:
                        self.pairs.remove(pair)
                    continue
                if from_client:
                    pair[1].sendall(data)
                else:
                    with self.lock:
                        pair[4] += data
            with self.lock:
                for pair in self.pairs:
                    self._flush(pair)
        for s in [self.listener] + [s for p in self.pairs for s in p[:2]]:
            s.close()

    def close(self):
        self.stopping = True
        self.thread.join(5)


class CaughtUpTest(FaultCase):
    def setUp(self):
        super().setUp()
        # The monitor's replay port, and the agent's way to it.
        self.proxy = HoldProxy(self, self.replay_port)
        self.agent_replay = "tcp://127.0.0.1:%d" % self.proxy.port

    def start_agent(self, services, name="agent", host="web-1"):
        return self.start_agent_config(journal_agent_config(self.endpoint, self.agent_replay,
                                                            self.journal, services, host), name)

    def monitor_json(self):
        rc, out, err = self.cli("monitor", "--json")
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def status_line(self):
        rc, out, err = self.cli("status")
        self.assertEqual(rc, 0, err)
        return out.splitlines()[0]

    def web1(self):
        return [h for h in self.cli_json("hosts") if h["host"] == "web-1"][0]

    def test_behind_while_replay_is_held_back_then_caught_up(self):
        servers = {n: zbtest.TcpServer(self) for n in ("a", "b")}
        self.start_replaying_monitor()
        self.start_agent({n: s.port for n, s in servers.items()})
        self.wait_state("web-1", "a", "up", 10)
        zbtest.wait_for(lambda: self.monitor_json()["caught_up"] and
                        self.web1()["replay_pending"] == 0, 10, "caught up at first")
        self.assertRegex(self.status_line(), r"^monitor: up \S+, heard \S+ ago, caught up$")

        # Transitions the monitor does not see: a down and up, b down.
        mark = self.change_unseen(servers, bounce="a", down="b")
        missed = len(journal_events(self.journal)) - mark

        # The new monitor gets them, but its acknowledgements are held back:
        # the agent keeps reporting them pending, and the monitor says so.
        self.proxy.hold(True)
        self.start_replaying_monitor(name="monitor2")

        def behind():
            m = self.monitor_json()
            return m if m["hosts_replaying"] == 1 and m["state"] == "running" else None
        m = zbtest.wait_for(behind, 4, "the monitor behind")
        self.assertFalse(m["caught_up"])
        self.assertGreaterEqual(m["transitions_pending"], missed)
        self.assertEqual(self.web1()["replay_pending"], m["transitions_pending"])
        self.assertRegex(self.status_line(),
                         r"^monitor: up \S+, heard \S+ ago, behind: 1 host replaying "
                         r"\(%d transitions?\)$" % m["transitions_pending"])
        rc, out, _ = self.cli("hosts")
        self.assertRegex(out.splitlines()[1],
                         r"^web-1 +alive +\S+ +\S+ ago +[0-9a-f]{16} +200ms +%d$"
                         % m["transitions_pending"])

        # Let the acknowledgements through: caught up, reported at once.
        self.proxy.hold(False)
        zbtest.wait_for(lambda: self.monitor_json()["caught_up"], 5, "caught up")
        self.assertEqual(self.web1()["replay_pending"], 0)
        self.assertRegex(self.status_line(), r"caught up$")
        self.wait_db_matches_journal()
        stats = self.stop_monitor()
        self.assertEqual(stats["db_errors"], 0)
        # A clean stop is recorded as such.
        m = self.monitor_json()
        self.assertEqual((m["state"], m["caught_up"]), ("stopped", False))
        self.assertIsNotNone(m["stopped_at"])
        self.assertRegex(self.status_line(), r"^monitor: stopped \S+ ago \(pid \d+ on ")

    def test_killed_monitor_is_not_heard_once_its_heartbeat_ages(self):
        self.start_monitor()
        m = zbtest.wait_for(lambda: (lambda m: m if m["state"] != "unknown" else None)(
            self.monitor_json()), 10, "the monitor's row")
        self.assertEqual(m["state"], "running")
        self.assertEqual(m["pid"], self.monitor.pid)
        self.assertEqual(m["heartbeat_ms"], 5000)
        # Nobody reports over replay here: caught up, trivially.
        self.assertTrue(m["caught_up"])
        # The heartbeat moves.
        first = parse_rfc3339_ms(m["heartbeat_at"])
        zbtest.wait_for(lambda: parse_rfc3339_ms(self.monitor_json()["heartbeat_at"]) > first,
                        10, "a second heartbeat")
        self.monitor.stop(signal.SIGKILL)
        # Still "running" until three heartbeat periods have passed...
        m = self.monitor_json()
        if m["heartbeat_age_s"] < 14:
            self.assertEqual(m["state"], "running")
        # ...then "not heard", and never "stopped": it did not stop cleanly.
        m = zbtest.wait_for(lambda: (lambda m: m if m["state"] != "running" else None)(
            self.monitor_json()), 25, "the killed monitor not heard")
        self.assertEqual(m["state"], "not-heard")
        self.assertGreater(m["heartbeat_age_s"], 15)
        self.assertFalse(m["caught_up"])
        self.assertIsNone(m["stopped_at"])
        self.assertRegex(self.status_line(), r"^monitor: not heard for \S+ \(pid %d on "
                         % m["pid"])
        rc, out, err = self.cli("monitor", "--csv")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(",")[:2], ["state", "caught_up"])
        self.assertEqual(lines[1].split(",")[:2], ["not-heard", "false"])
        # A new monitor: running again.
        self.start_monitor(name="monitor2")
        zbtest.wait_for(lambda: self.monitor_json()["state"] == "running", 10, "running again")
        # status --json keeps its shape: the monitor is not in it.
        for row in self.cli_json("status"):
            self.assertNotIn("monitor", row)


if __name__ == "__main__":
    zbtest.main()
