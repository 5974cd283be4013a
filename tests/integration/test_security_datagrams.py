"""Liveness datagrams under CURVE (issue 23, docs/security.md "Liveness
datagrams"): a real agent seals them, the real monitor opens them; forged,
replayed, truncated and clear ones sent at the monitor's UDP port are
counted by kind and dropped, the monitor lives on, the host stays alive,
and a killed agent is still found silent."""

import os
import re
import signal
import socket
import urllib.request

import zbtest
from agent_helpers import agent_config
from monitor_helpers import host_outages
from security_helpers import SecureCase


def datagram_counts(http):
    with urllib.request.urlopen("http://%s/metrics" % http, timeout=5) as r:
        text = r.read().decode()
    return {k: int(v) for k, v in
            re.findall(r'^zbeat_datagrams_total\{outcome="(\w+)"\} (\d+)$', text, re.M)}


class SealedDatagramTest(SecureCase):
    def test_forged_replayed_truncated_dropped_and_counted(self):
        udp, http = zbtest.free_port(), "127.0.0.1:%d" % zbtest.free_port()
        secret, _ = self.agent_key("web-1")
        self.start_monitor(["-c", self.monitor_config(
            "    udp = 127.0.0.1:%d\n    http = %s\n" % (udp, http))])
        # A tap beside the monitor: the agent sends it the same bytes.
        tap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tap.bind(("127.0.0.1", 0))
        self.addCleanup(tap.close)
        text = agent_config(self.endpoint, None, "web-1", "1s",
                            listen="tcp://127.0.0.1:%d" % zbtest.free_port(),
                            keys=(("cert", secret), ("monitor-cert", self.monitor_public),
                                  ("udp", "127.0.0.1:%d, 127.0.0.1:%d"
                                   % (udp, tap.getsockname()[1])),
                                  ("udp-beat", "100ms")))
        agent = self.start_agent_config(text, "agent-web-1")
        self.wait_beating("web-1")
        zbtest.wait_for(lambda: datagram_counts(http).get("accepted", 0) >= 5, 20,
                        "sealed datagrams accepted")
        # Those from before the monitor knew the host were never accepted
        # (a replay of one is new to it): only fresh ones are kept.
        tap.setblocking(False)
        try:
            while tap.recv(2048):
                pass
        except BlockingIOError:
            pass
        tap.settimeout(5)
        genuine = [tap.recv(2048) for _ in range(4)]
        for dg in genuine:
            self.assertEqual(dg[:5], b"ZBU\x01\x01", "sealed, version 1")
        before = datagram_counts(http)
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(out.close)
        to = ("127.0.0.1", udp)
        sent = {"replayed": 0, "malformed": 0, "forged": 0, "plain": 0}
        # Wait until the monitor has the last genuine one: a replay then is
        # a replay, never the first copy.
        zbtest.wait_for(lambda: datagram_counts(http)["accepted"] > before["accepted"] + 2, 5,
                        "the genuine datagrams taken")
        for dg in genuine:
            out.sendto(dg, to)
            sent["replayed"] += 1
        dg = genuine[-1]
        n = dg[5]
        box = 6 + n + 32 + 24  # where the sealed part begins
        for cut in (0, 3, 5, 6 + n, box, len(dg) - 1):
            out.sendto(dg[:cut], to)
            sent["malformed"] += 1
        out.sendto(dg + b"x", to)
        out.sendto(b"GET / HTTP/1.0\r\n\r\n", to)
        sent["malformed"] += 2
        for at in (box, box + 20, len(dg) - 1):  # a bit flipped in the box or MAC
            bad = bytearray(dg)
            bad[at] ^= 1
            out.sendto(bytes(bad), to)
            sent["forged"] += 1
        nonce = bytearray(dg)
        nonce[6 + n + 32] ^= 0x80  # the nonce: the box no longer opens
        out.sendto(bytes(nonce), to)
        sent["forged"] += 1
        other = bytearray(dg)
        other[6 + n - 1:6 + n] = b"2"  # web-2: the key is web-1's
        out.sendto(bytes(other), to)
        stranger = bytearray(dg)
        stranger[6 + n:6 + n + 32] = os.urandom(32)  # a key not in the allow-list
        out.sendto(bytes(stranger), to)
        sent["forged"] += 2
        # In clear, well formed: refused while CURVE is on.
        plain = b"ZBU\x01\x00" + bytes([n]) + dg[6:6 + n] + b"0123456789abcdef" + \
            (1 << 40).to_bytes(8, "big") + (100).to_bytes(4, "big") + bytes(4)
        out.sendto(plain, to)
        sent["plain"] += 1

        def counted():
            now = datagram_counts(http)
            return all(now.get(k, 0) - before.get(k, 0) >= v for k, v in sent.items()) and now
        now = zbtest.wait_for(counted, 20, "every bad datagram counted")
        for kind, count in sent.items():
            self.assertEqual(now[kind] - before[kind], count, kind)
        # Nothing of that touched the host; it is alive, beats and datagrams on.
        self.assertTrue(self.monitor.alive(), self.monitor.output())
        accepted = now["accepted"]
        zbtest.wait_for(lambda: datagram_counts(http)["accepted"] > accepted + 5, 10,
                        "datagrams still accepted")
        self.assertEqual(self.hosts()["web-1"]["state"], "alive")
        self.assertEqual(host_outages(self.outages(), "web-1"), [])
        # The detector learnt a short threshold from the datagrams.
        zbtest.wait_for(lambda: (self.hosts()["web-1"].get("silence_threshold_ms") or 99999)
                        < 5000, 20, "a datagram-driven threshold written")
        agent.stop(signal.SIGKILL)
        zbtest.wait_for(lambda: self.hosts()["web-1"]["state"] == "silent", 30,
                        "the killed agent's host silent")
        stats = self.stop_monitor()
        self.assertEqual(stats["rejected"], 0)


if __name__ == "__main__":
    zbtest.main()
