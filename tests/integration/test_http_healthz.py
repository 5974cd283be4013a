"""/healthz while database writes fail (issue 18, point 3): on a full disk
the monitor keeps its writes in memory for a retry, and /healthz must answer
503 at every probe for as long as they wait, then 200 once space returns and
they are written."""

import os
import threading
import time

import zbtest
from http_helpers import HttpCase


class HealthzDiskFullTest(HttpCase):

    def test_503_while_writes_are_kept(self):
        mnt = self.small_tmpfs()
        self.db = os.path.join(mnt, "zbeat.db")
        self.start_http_monitor()
        agent = self.fake("web-1", interval_ms=3600000)  # never silent: s stays "up"
        agent.set("s", "up")
        agent.beat()
        self.wait_state("web-1", "s", "up", 10)
        zbtest.wait_for(lambda: self.get("/healthz").status == 200, 10, "healthz 200")

        # The service flaps all along: every pass has something to write.
        stop = threading.Event()

        def flap():
            state = "down"
            while not stop.wait(0.1):
                agent.event("s", state)
                agent.beat()
                state = "up" if state == "down" else "down"
        flapper = threading.Thread(target=flap, daemon=True)
        flapper.start()
        self.addCleanup(stop.set)

        filler = self.fill_disk(mnt)
        zbtest.wait_for(lambda: "DATABASE WRITE FAILED" in self.monitor.output(), 20,
                        "the monitor says the database is not writable")
        # The shared state is set right after the failed commit is logged:
        # from the first 503 on, every probe until space returns.
        zbtest.wait_for(lambda: self.get("/healthz").status == 503, 5, "the first 503")
        probes = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 8:
            a = self.get("/healthz")
            probes.append((a.status, a.text().strip()))
            time.sleep(0.05)
        self.assertNotIn("database writable again", self.monitor.output(),
                         "space came back by itself: the test proves nothing")
        ok = [p for p in probes if p[0] != 503]
        kept = [p for p in probes if "kept for a retry" in p[1]]
        print("disk full: %d probes, %d answered 503, %d of them naming kept writes" %
              (len(probes), len(probes) - len(ok), len(kept)))
        self.assertEqual(ok, [])
        self.assertGreater(len(probes), 40)
        self.assertTrue(kept, probes[:5])

        os.unlink(filler)
        zbtest.wait_for(lambda: "database writable again" in self.monitor.output(), 20,
                        "the kept writes written")
        zbtest.wait_for(lambda: self.get("/healthz").status == 200, 10, "healthz 200 again")
        stop.set()
        flapper.join()
        self.assertTrue(self.monitor.alive())
        self.stop_monitor()


if __name__ == "__main__":
    zbtest.main()
