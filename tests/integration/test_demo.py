"""The README's demo command starts a working stack: both hosts alive and all
three services up in `zbeat status --json`, the status page served at the
URL it prints, and it cleans up after itself."""

import json
import os
import subprocess

import zbtest


class Demo(zbtest.TestCase):
    def test_demo_once(self):
        zbtest.bin("zbeat-monitor")
        env = dict(os.environ, ZB_DEMO_ONCE="1", ZB_DEMO_DIR=self.tmp,
                   ZB_DEMO_BIN=os.path.join(zbtest.BUILD_DIR, "bin"))
        r = subprocess.run([os.path.join(zbtest.SOURCE_DIR, "scripts", "demo.sh")], env=env,
                           capture_output=True, text=True, timeout=60 * zbtest.SLOW)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # The status table the demo printed while everything ran.
        rows = {tuple(line.split()[:3]) for line in r.stdout.splitlines()}
        for row in [("web-1", "-", "alive"), ("db-1", "-", "alive"), ("web-1", "cache", "up"),
                    ("web-1", "sessions", "up"), ("db-1", "redis", "up")]:
            self.assertIn(row, rows, r.stdout)
        # The status page's URL, and the page was served at that address.
        import re
        m = re.search(r"status page  (http://127\.0\.0\.1:(\d+)/)", r.stdout)
        self.assertTrue(m, r.stdout)
        with open(os.path.join(self.tmp, "monitor.log")) as f:
            self.assertIn("http on 127.0.0.1:%s" % m.group(2), f.read())
        # It stopped everything on purpose: the agents' planned stops left
        # the hosts stopped, and no outage was recorded.
        db = os.path.join(self.tmp, "zbeat.db")
        code, out, err = self.run_cmd([zbtest.bin("zbeat"), "--db", db, "outages", "--json"])
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), [])
        # The demo's processes are gone: the monitor released its port and
        # nothing still holds the DB's write lock.
        for name in ("web-1", "db-1"):
            with open(os.path.join(self.tmp, name + ".pid")) as f:
                pid = int(f.read())
            zbtest.wait_for(lambda: not os.path.exists("/proc/%d" % pid), 10,
                            "%s's agent to exit" % name)


if __name__ == "__main__":
    zbtest.main()
