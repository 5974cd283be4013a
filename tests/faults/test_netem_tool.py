"""zb-netem (tests/faults/zb_netem.c) in a host's path, through the router
namespace netns.Net builds for host(n, shaped="tool"): unshaped, everything
passes at once; with loss and jitter, about the asked share of packets is
dropped each way (zb-netem's counts, and the echoes that came back), and
round trips spread over the whole jitter range; TCP gets through intact."""

import json
import os
import statistics
import subprocess
import unittest

import netns
import zbtest

ECHO = os.path.join(netns.HERE, "echo.py")


class NetemToolTest(zbtest.TestCase):
    def setUp(self):
        ok, why = netns.available()
        if not ok:
            raise unittest.SkipTest(why)
        super().setUp()
        netns.netem_tool()  # skips when not built
        self.net = netns.Net(self)
        self.h = self.net.host(1, shaped="tool")
        self.addr = self.net.monitor_addr(1)
        self.udp_port, self.tcp_port = 9101, 9102
        for mode, port in (("udp-server", self.udp_port), ("tcp-server", self.tcp_port)):
            proc = self.start(self.net.exec_args(self.net.mon, ["/usr/bin/python3", ECHO, mode,
                                                                port]), mode)
            zbtest.wait_for(lambda: "ready" in proc.output() or not proc.alive(), 10, mode)
            self.assertTrue(proc.alive(), proc.output())

    def client(self, *args, timeout=120):
        r = subprocess.run(self.net.exec_args(self.h, ["/usr/bin/python3", ECHO] + list(args)),
                           capture_output=True, text=True, timeout=timeout)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def udp(self, count, gap_ms, wait_ms):
        return self.client("udp-client", self.addr, self.udp_port, count, gap_ms, wait_ms)

    def test_unshaped_everything_passes(self):
        got = self.udp(200, 5, 1000)
        self.assertEqual(len(got["rtts_ms"]), 200, "every echo back")
        self.assertEqual(got["dups"], 0)
        # No delay is added: a loaded 2-core machine still answers in ms.
        self.assertLess(statistics.median(got["rtts_ms"]), 20, got["rtts_ms"])
        c = self.net.counts(1)
        self.assertGreaterEqual(c["a_in"], 200, c)
        for side in "ab":
            for what in ("lost", "overflow", "errors"):
                self.assertEqual(c["%s_%s" % (side, what)], 0, c)
            self.assertEqual(c["%s_in" % side], c["%s_out" % side], c)
        tcp = self.client("tcp-client", self.addr, self.tcp_port, 2000000, 30)
        self.assertTrue(tcp["intact"], tcp)
        self.assertEqual(self.net.stop_shaper(1), 0, "zb-netem exits 0 on SIGTERM")
        final = self.net.final[1]
        self.assertGreater(final["a_out"], 1000, "the TCP transfer went through it")

    def test_loss_and_jitter(self):
        self.net.shape(1, loss=20, delay=100, jitter=50, seed=7)
        count = 400
        got = self.udp(count, 5, 1500)
        # Once zb-netem's delay queue has drained: a late packet (an echo
        # the loaded server sent late, anything else on the link) may still
        # be held for its delay when the client gives up; a packet that
        # stays queued for seconds is a fault.
        c = zbtest.wait_for(lambda: (lambda c: c if c["queued"] == 0 else None)(
            self.net.counts(1)), 5, "zb-netem's delay queue drained")
        rtts = sorted(got["rtts_ms"])
        info = "counts %r; %d echoes" % (c, len(rtts))
        # Each way on its own: 20% of what entered, within about 5 standard
        # deviations for these sample sizes.
        self.assertGreaterEqual(c["a_in"], count, info)
        for side in "ab":
            share = c["%s_lost" % side] / c["%s_in" % side]
            self.assertTrue(0.10 <= share <= 0.30, "%s lost %.2f; %s" % (side, share, info))
            self.assertEqual(c["%s_overflow" % side] + c["%s_errors" % side], 0, info)
        self.assertEqual(c["queued"], 0, info)
        # What came back is what zb-netem let through on the way back.
        self.assertTrue(0.45 <= len(rtts) / count <= 0.80, info)
        self.assertTrue(len(rtts) <= c["b_out"] <= len(rtts) + 5, info)
        # Two delays of 100 +- 50 ms: every round trip within [100, 300] ms
        # (plus scheduling), spread over the range, not bunched at 200.
        # (Never under the least delay; over the most only by scheduling
        # slack, 200 ms on a loaded machine: a delay applied twice would
        # reach 600.)
        self.assertGreaterEqual(rtts[0], 99.0, rtts)
        self.assertLess(rtts[-1], 300 + 200 * zbtest.SLOW, rtts)
        p10, p90 = rtts[len(rtts) // 10], rtts[len(rtts) * 9 // 10]
        self.assertLess(p10, 170, rtts)
        self.assertGreater(p90, 230, rtts)

    def test_tcp_across_loss_and_reordering(self):
        self.net.shape(1, loss=5, delay=10, jitter=5, seed=3)
        tcp = self.client("tcp-client", self.addr, self.tcp_port, 500000, 90)
        self.assertTrue(tcp["intact"], tcp)
        c = self.net.counts(1)
        self.assertGreater(c["a_lost"] + c["b_lost"], 0, c)


if __name__ == "__main__":
    zbtest.main()
