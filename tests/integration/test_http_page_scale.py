"""The status page at 100,000 hosts x 2 services (issue 22), in headless
chromium, the rows written straight into the database: the page does not
download every row but the counts (/api/v1/summary), the problems
(?state=problems) and the reports' rows with outages; it shows the counts,
the problem hosts first and only them, the all-up hosts folded into one
count; its search box asks the monitor (?host=GLOB) and finds a given
all-up host. Load, drawing and search times are measured and printed (no
bound: docs/benchmarks.md keeps them)."""

import sqlite3
import sys
import time

import zbtest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from monitor_helpers import now_ms
from test_http_page import PageCase

H, M = 3600000, 60000
HOSTS, SERVICES = 100000, 2


class HttpPageScaleTest(PageCase):

    page_load_s = 120

    def js(self, script, *args):
        """None while the renderer is too busy to answer the driver."""
        try:
            return self.driver.execute_script(script, *args)
        except TimeoutException:
            return None

    def loaded(self, after=0):
        return zbtest.wait_for(
            lambda: (lambda v: int(v) if v and int(v) > after else None)(
                self.js("return document.body.dataset.loaded")), 180 * zbtest.SLOW,
            "the page drawn")

    def drawn_hosts(self):
        return self.js("return Array.from(document.querySelectorAll('#hosts section.host[data-host]'))"
                       ".map(h => [h.dataset.host, h.dataset.state, "
                       "h.querySelectorAll('.service').length])")

    def test_a_hundred_thousand_hosts(self):
        self.start_http_monitor()
        t = now_ms()
        # Problems: 40 silent hosts, 3 stopped, 2 name conflicts; 25 services
        # down on hosts that are alive.
        host_state = {h: "silent" for h in range(1000, 5000, 100)}
        host_state.update({h: "stopped" for h in (7, 8, 9)})
        host_state.update({h: "name-conflict" for h in (31337, 31338)})
        down = {(h, 1) for h in range(50000, 75000, 1000)}
        name = lambda h: "host-%06d" % h
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            conn.executemany(
                "INSERT INTO hosts (name, state, since_ms, interval_ms, last_seen_ms) "
                "VALUES (?, ?, ?, 3600000, ?)",
                ((name(h), host_state.get(h, "alive"), t - 2 * H, t) for h in range(HOSTS)))

            def service_state(h, s):
                hs = host_state.get(h)
                return "unknown" if hs == "silent" else "stopped" if hs == "stopped" else \
                    "down" if (h, s) in down else "up"
            conn.executemany(
                "INSERT INTO services (host, name, kind, state, since_ms, reason) "
                "VALUES (?, ?, 'probe', ?, ?, ?)",
                ((name(h), "svc-%d" % s, service_state(h, s), t - 2 * H,
                  "refused" if (h, s) in down else "ok")
                 for h in range(HOSTS) for s in range(SERVICES)))
            # History: 500 closed outages over the week.
            conn.executemany(
                "INSERT INTO outages (kind, host, service, started_at_ms, ended_at_ms, "
                "reason, end_reason) VALUES ('service', ?, 'svc-0', ?, ?, 'refused', 'up')",
                ((name(h), t - (h % 150) * H, t - (h % 150) * H + 5 * M)
                 for h in range(0, HOSTS, 200)))
            conn.commit()
        finally:
            conn.close()
        problem_hosts = sorted(set(host_state) | {h for h, _ in down})
        problem_rows = len(host_state) + sum(
            SERVICES for s in host_state.values() if s in ("silent", "stopped")) + len(down)

        # The API's pieces on their own, timed.
        timings = {}
        for path in ("/api/v1/summary", "/api/v1/status?state=problems&limit=2000",
                     "/api/v1/report?since=7d&outages_only=true", "/api/v1/status"):
            began = time.monotonic()
            answer = self.get(path)
            timings[path] = (time.monotonic() - began, len(answer.body))
            self.assertEqual(answer.status, 200, path)
        summary = self.get_json("/api/v1/summary")
        self.assertEqual(summary["hosts"]["total"], HOSTS)
        self.assertEqual(summary["services"]["total"], HOSTS * SERVICES)
        self.assertEqual(summary["hosts"]["states"]["silent"], 40)
        self.assertEqual(summary["services"]["states"]["down"], len(down))
        self.assertEqual(len(self.get_json("/api/v1/status?state=problems&limit=2000")),
                         problem_rows)

        began = time.monotonic()
        self.driver.get("http://127.0.0.1:%d/?refresh=600" % self.http_port)
        loaded = self.loaded()
        load_s = time.monotonic() - began
        render_ms = int(self.js("return document.body.dataset.renderMs"))
        self.assertEqual(self.js("return document.getElementById('hosts').dataset.large"), "true")
        self.assertEqual(self.js("return document.getElementById('summary').textContent"),
                         "100000 hosts (45 not alive), 200000 services (25 down)")
        hosts = self.drawn_hosts()
        # Problems only, not-alive hosts first (by name), then those with a
        # service down; the rest folded into one count.
        self.assertEqual(sorted(h[0] for h in hosts), [name(h) for h in problem_hosts])
        not_alive = sorted(name(h) for h in host_state)
        self.assertEqual([h[0] for h in hosts[:len(not_alive)]], not_alive)
        self.assertTrue(all(h[1] == "alive" for h in hosts[len(not_alive):]), hosts)
        folded = int(self.js("return document.getElementById('hosts').dataset.folded"))
        self.assertEqual(folded, HOSTS - len(problem_hosts))
        self.assertIn("%d more hosts all up" % folded,
                      self.js("return document.querySelector('#hosts .folded').textContent"))
        self.assertEqual(self.js("return document.title"), "(25 down) zbeat status")

        # The search asks the monitor: an all-up host, by name part.
        wanted = name(54321)
        began = time.monotonic()
        self.driver.find_element(By.ID, "filter").send_keys("054321")
        zbtest.wait_for(lambda: (self.drawn_hosts() or [[None]])[0][0] == wanted,
                        60 * zbtest.SLOW, "the search's host drawn")
        search_s = time.monotonic() - began
        self.assertEqual(self.drawn_hosts(), [[wanted, "alive", 2]])
        self.assertGreater(int(self.js("return document.body.dataset.loaded")), loaded)
        # A glob over many hosts comes a page at a time.
        self.driver.find_element(By.ID, "filter").clear()
        self.driver.find_element(By.ID, "filter").send_keys("host-00*")
        zbtest.wait_for(lambda: self.js("return document.querySelector('.pager') && "
                                        "document.querySelector('.pager').textContent"),
                        60 * zbtest.SLOW, "a page of matches")
        self.assertIn("rows 1\u2013400 of the hosts matching host-00*",
                      self.js("return document.querySelector('.pager').textContent"))
        self.assertEqual(len(self.drawn_hosts()), 400 // (SERVICES + 1) + 1)

        api = "; ".join("%s %.2f s %d KB" % (p, s, n // 1024) for p, (s, n) in timings.items())
        sys.stderr.write("\n%d hosts x %d services: page loaded and drawn in %.2f s (render "
                         "%d ms, %d hosts drawn, %d folded); search %.2f s\nAPI: %s\n"
                         % (HOSTS, SERVICES, load_s, render_ms, len(hosts), folded, search_s,
                            api))


if __name__ == "__main__":
    zbtest.main()
