"""The status page in a real headless browser (Debian's chromium, driven by
python3-selenium through chromium-driver): a real agent probes a real
redis-server; killing redis shows the service down and its outage on the
24 h and 7 d timelines, with start, end and reason on hover; restarting it
closes the outage on the page. The page also fits a phone's width.

ZB_STATUS_SCREENSHOT=PATH saves the screenshot taken while redis is down
(docs/status-page.png is made that way)."""

import os
import shutil
import unittest

import zbtest
from agent_helpers import agent_config
from http_helpers import HttpCase
from monitor_helpers import now_ms

PING = {"send": '"PING\\r\\n"', "expect": '"+PONG"'}
H, M = 3600000, 60000


def browser():
    """A headless chromium under selenium, or a skip (a failure under CI,
    where scripts/deps.sh installs them) when they are missing."""
    missing = [p for p in ("chromium", "chromedriver") if not shutil.which(p)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("python3-selenium")
    if missing:
        message = "needs %s (Debian: chromium chromium-driver python3-selenium)" % missing
        if os.environ.get("CI"):
            raise AssertionError(message)
        raise unittest.SkipTest(message)
    options = Options()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


class PageCase(HttpCase):
    """An HttpCase with a headless browser (self.driver) for the status
    page's tests."""

    page_load_s = 30  # the browser's page load timeout (times zbtest.SLOW)

    def setUp(self):
        super().setUp()
        self.driver = browser()
        self.addCleanup(self.driver.quit)
        self.driver.set_page_load_timeout(self.page_load_s * zbtest.SLOW)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def silent_a_moment(self, host, service, since_ms):
        """A fake agent's host (its service up since since_ms) that goes
        silent, then is alive again: a silence on the timelines."""
        agent = self.fake(host, interval_ms=100)
        agent.set(service, "up", since_ms)
        agent.beat()
        self.wait_state(host, None, "silent", 10)
        agent.interval_ms = 3600000
        agent.beat()
        self.wait_state(host, None, "alive", 10)


class HttpPageTest(PageCase):

    def start_agent(self, host, services):
        return self.start_agent_config(agent_config(self.endpoint, services, host, "250ms"), host)

    def history(self):
        """A second host with outages of the past days (a fake agent with
        chosen times), and a third that goes silent for a moment."""
        t = now_ms()
        db = self.fake("db-1", interval_ms=3600000)
        for name in ("postgres", "ssh"):
            db.set(name, "up", t - 8 * 24 * H)
        db.beat()
        db.event("postgres", "down", at_ms=t - 5 * 24 * H, reason="timeout",
                 error="no answer in 500ms")
        db.event("postgres", "up", at_ms=t - 5 * 24 * H + 3 * H)
        db.event("postgres", "down", at_ms=t - 7 * H, reason="refused",
                 error="connect: Connection refused")
        db.event("postgres", "up", at_ms=t - 6 * H)
        self.silent_a_moment("edge-1", "nginx", t - 8 * 24 * H)

    def row(self, host, service):
        """The page's row of a service as a dict, or None."""
        return self.js("""
            const r = document.querySelector(
                `.service[data-host="${arguments[0]}"][data-service="${arguments[1]}"]`);
            if (!r) return null;
            const segs = (w, kind) => Array.from(
                r.querySelectorAll(`.window[data-window="${w}"] .seg.${kind}`)).map(
                s => ({start: s.dataset.start, end: s.dataset.end, reason: s.dataset.reason,
                       width: s.getBoundingClientRect().width}));
            return {state: r.dataset.state,
                    badge: r.querySelector('.badge').textContent,
                    pct24: r.querySelector('.window[data-window="24h"] .pct').textContent,
                    down24: segs('24h', 'down'), down7: segs('7d', 'down'),
                    silent24: segs('24h', 'silent')};
        """, host, service)

    def wait_row(self, host, service, pred, what, timeout=20):
        return zbtest.wait_for(lambda: (lambda r: r if r and pred(r) else None)(
            self.row(host, service)), timeout, what)

    def test_killed_service_shows_down_on_the_page(self):
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        self.start_http_monitor()
        redis = self.redis()
        pong = zbtest.TcpServer(self)
        self.start_agent("web-1", [
            ("redis", dict(PING, probe="127.0.0.1:%d" % redis.port, interval="500ms",
                           timeout="300ms")),
            ("cache", dict(PING, probe="127.0.0.1:%d" % pong.port, interval="500ms",
                           timeout="300ms"))])
        self.wait_state("web-1", "redis", "up", 15)
        self.history()

        self.driver.get("http://127.0.0.1:%d/?refresh=1" % self.http_port)
        up = self.wait_row("web-1", "redis", lambda r: r["state"] == "up", "redis up on the page")
        self.assertEqual(up["badge"], "up")
        self.assertEqual(up["down24"], [])
        self.assertEqual(self.driver.title, "zbeat status")

        redis.kill()
        self.wait_outages(lambda r: any(o["service"] == "redis" and o["ended_at"] is None
                                        for o in r), 10, "redis outage recorded")
        down = self.wait_row("web-1", "redis",
                             lambda r: r["state"] == "down" and r["down24"] and r["down7"],
                             "redis down on the page, with its outage")
        self.assertEqual(down["badge"], "down")
        outage = [o for o in self.outages("--open") if o["service"] == "redis"][0]
        for seg in (down["down24"][-1], down["down7"][-1]):
            self.assertEqual(seg["reason"], outage["reason"])
            self.assertEqual(seg["end"], "")  # still open
            self.assertEqual(seg["start"], outage["started_at"])
            self.assertGreaterEqual(seg["width"], 2)  # visible, however short
        self.assertIn("(1 down)", self.driver.title)
        # The other services: cache up, db-1's past outages on its bars,
        # edge-1's silence in grey (not as downtime).
        self.assertEqual(self.row("web-1", "cache")["state"], "up")
        postgres = self.row("db-1", "postgres")
        self.assertEqual(len(postgres["down7"]), 2)
        self.assertEqual(len(postgres["down24"]), 1)
        self.assertEqual(postgres["down24"][0]["reason"], "refused")
        nginx = self.row("edge-1", "nginx")
        self.assertEqual(len(nginx["silent24"]), 1)
        self.assertEqual(nginx["down24"], [])
        self.assertEqual(nginx["pct24"], "100.00%")

        # Hover: start, end (still open) and reason.
        seg = self.driver.find_element(
            By.CSS_SELECTOR,
            '.service[data-host="web-1"][data-service="redis"] .window[data-window="24h"] '
            '.seg.down')
        ActionChains(self.driver).move_to_element(seg).perform()
        tip = self.driver.find_element(By.ID, "tip")
        zbtest.wait_for(tip.is_displayed, 5, "the tooltip")
        self.assertIn("down", tip.text)
        self.assertIn(outage["reason"], tip.text)
        self.assertIn("still open", tip.text)
        self.assertIn("from ", tip.text)
        shot = os.path.join(self.tmp, "status-page.png")
        self.assertTrue(self.driver.save_screenshot(shot))
        self.assertGreater(os.path.getsize(shot), 10000)
        if os.environ.get("ZB_STATUS_SCREENSHOT"):
            shutil.copy(shot, os.environ["ZB_STATUS_SCREENSHOT"])

        # Back up: the outage closes on the page too.
        redis.start()
        closed = self.wait_row("web-1", "redis",
                               lambda r: r["state"] == "up" and r["down24"] and
                               r["down24"][-1]["end"], "redis up again, its outage closed")
        self.assertNotEqual(closed["pct24"], "100.00%")
        ActionChains(self.driver).move_to_element(self.driver.find_element(
            By.CSS_SELECTOR,
            '.service[data-host="web-1"][data-service="redis"] .window[data-window="24h"] '
            '.seg.down')).perform()
        zbtest.wait_for(lambda: "to " in tip.text and "still open" not in tip.text, 5,
                        "the tooltip of a closed outage")

        # No script errors on the way.
        errors = [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
        self.assertEqual(errors, [])

    def test_fits_a_phone(self):
        self.start_http_monitor()
        self.history()
        self.driver.set_window_size(390, 844)
        self.driver.get("http://127.0.0.1:%d/" % self.http_port)
        self.wait_row("db-1", "postgres", lambda r: r["down7"], "the page drawn")
        # No sideways scrolling; each timeline spans the screen.
        width = self.js("return window.innerWidth")
        self.assertLessEqual(self.js("return document.documentElement.scrollWidth"), width)
        bars = self.js("return Array.from(document.querySelectorAll('.bar'))"
                       ".map(b => b.getBoundingClientRect().width)")
        self.assertTrue(bars)
        for w in bars:
            self.assertGreater(w, width * 0.75)
        # Tapping an outage shows its tooltip.
        from selenium.webdriver.common.by import By
        seg = self.driver.find_element(By.CSS_SELECTOR, '.service[data-service="postgres"] '
                                                        '.window[data-window="7d"] .seg.down')
        self.js("arguments[0].click()", seg)
        tip = self.driver.find_element(By.ID, "tip")
        zbtest.wait_for(tip.is_displayed, 5, "the tooltip")
        self.assertIn("down", tip.text)
        self.assertTrue("timeout" in tip.text or "refused" in tip.text, tip.text)


if __name__ == "__main__":
    zbtest.main()
