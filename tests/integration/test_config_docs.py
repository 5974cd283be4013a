"""scripts/config_docs.py: the key tables of docs/config-*.md against the
daemons' own (`--config-table`). On copies of the docs, doctored: a wrong
cell, a missing row, a row for no key and a table without its comment each
fail --check with the file, key and column named; --write puts the
program's cells back and leaves the rest of the file as it was. The alert
channel's keys are a table of the monitor's like its `monitor` section's.
On a copy of man/zbeat.conf.5, doctored: a wrong default, a wrong range and
a key without its item fail too (--write leaves the page alone)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import zbtest

SCRIPT = os.path.join(zbtest.SOURCE_DIR, "scripts", "config_docs.py")


class ConfigDocsTest(unittest.TestCase):

    def setUp(self):
        for daemon in ("zbeat-agent", "zbeat-monitor", "zbeat-relay"):
            zbtest.bin(daemon)  # skips when not built
        self.tmp = tempfile.mkdtemp(prefix="zb-config-docs-")
        self.docs = os.path.join(self.tmp, "docs")
        shutil.copytree(os.path.join(zbtest.SOURCE_DIR, "docs"), self.docs)
        self.man = os.path.join(self.tmp, "man")
        shutil.copytree(os.path.join(zbtest.SOURCE_DIR, "man"), self.man)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_script(self, mode):
        proc = subprocess.run(
            [sys.executable, SCRIPT, mode, "--build-dir", zbtest.BUILD_DIR,
             "--docs-dir", self.docs, "--man-dir", self.man],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
            timeout=60)
        return proc.returncode, proc.stdout, proc.stderr

    def path(self, name):
        return os.path.join(self.man if name.endswith(".5") else self.docs, name)

    def read(self, name):
        with open(self.path(name), encoding="utf-8") as f:
            return f.read()

    def edit(self, name, pattern, replacement):
        """Replaces the one match of pattern (a regex, multi-line)."""
        text = self.read(name)
        new, count = re.subn(pattern, replacement, text, flags=re.M)
        self.assertEqual(count, 1, pattern)
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(new)

    def test_the_docs_match_the_programs(self):
        self.assertEqual(self.run_script("--check"), (0, "", ""))

    def test_a_wrong_cell_fails_and_write_puts_it_back(self):
        original = self.read("config-agent.md")
        self.edit("config-agent.md", r"^(\| `beat` \| duration \| )`1s`", r"\1`2s`")
        rc, _, err = self.run_script("--check")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"docs/config-agent\.md:\d+: agent/beat: default is \"`2s`\", "
                              r"zbeat-agent says \"`1s`\"")
        self.assertEqual(len(err.splitlines()), 1, err)
        rc, out, err = self.run_script("--write")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("agent/beat: rewrote default", out)
        self.assertEqual(self.read("config-agent.md"), original)
        self.assertEqual(self.run_script("--check"), (0, "", ""))

    def test_a_bounds_cell_of_the_monitor(self):
        self.edit("config-monitor.md", r"^(\| `phi` \| [^|]*\| [^|]*\| )`1` \.\. `30`",
                  r"\1`1` .. `40`")
        rc, _, err = self.run_script("--check")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"docs/config-monitor\.md:\d+: monitor/phi: bounds is "
                              r"\"`1` \.\. `40`\", zbeat-monitor says \"`1` \.\. `30`\"")

    def test_an_alert_channel_key(self):
        original = self.read("config-monitor.md")
        self.edit("config-monitor.md", r"^(\| `resend` \| duration \| )`1m`", r"\1`2m`")
        self.edit("config-monitor.md", r"^(\| `timeout` \| duration \| `10s` \| )`100ms`",
                  r"\1`1s`")
        self.edit("config-monitor.md", r"^\| `smtp` \|.*\n", "")
        rc, _, err = self.run_script("--check")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"docs/config-monitor\.md:\d+: alert/resend: default is \"`2m`\", "
                              r"zbeat-monitor says \"`1m`\"")
        self.assertRegex(err, r"docs/config-monitor\.md:\d+: alert/timeout: bounds is "
                              r"\"`1s` \.\. `1h`\", zbeat-monitor says \"`100ms` \.\. `1h`\"")
        self.assertIn("docs/config-monitor.md: alert/smtp: no row (zbeat-monitor knows the key)",
                      err)
        self.assertEqual(len(err.splitlines()), 3, err)
        rc, out, err = self.run_script("--write")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("alert/resend: rewrote default", out)
        self.assertIn("alert/smtp: added a row; write its meaning", out)
        self.edit("config-monitor.md", r"^(\| `smtp` \|.*\|)  \|$", r"\1 email: the server |")
        rc, _, err = self.run_script("--check")
        self.assertEqual((rc, err), (0, ""))
        self.assertNotEqual(self.read("config-monitor.md"), original)  # smtp's row is now last

    def test_the_manual_page(self):
        original = self.read("zbeat.conf.5")
        self.edit("zbeat.conf.5", r"^How often, 50ms to 1m\.\nDefault: 250ms\.$",
                  "How often, 50ms to 1m.\nDefault: 500ms.")
        self.edit("zbeat.conf.5", r"^Alertmanager channels: firing alerts are restated this "
                                  r"often, 1s to 1h\.$",
                  "Alertmanager channels: firing alerts are restated this often, 1s to 2h.")
        self.edit("zbeat.conf.5", r"^\.It Ic tls-warn No = Ar duration\n(?:[^.].*\n|\.[^I].*\n)*",
                  "")
        rc, _, err = self.run_script("--check")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"man/zbeat\.conf\.5:\d+: agent/udp-beat: default is \"500ms\", "
                              r"zbeat-agent says \"250ms\"")
        self.assertRegex(err, r"man/zbeat\.conf\.5:\d+: alert/resend: does not say \"1s to 1h\"")
        self.assertIn("man/zbeat.conf.5: monitor/tls-warn: no item (zbeat-monitor knows the key)",
                      err)
        self.assertEqual(len(err.splitlines()), 3, err)
        # The page is the writer's: --write reports it and leaves it.
        doctored = self.read("zbeat.conf.5")
        rc, _, err = self.run_script("--write")
        self.assertEqual(rc, 1)
        self.assertIn("agent/udp-beat: default is", err)
        self.assertEqual(self.read("zbeat.conf.5"), doctored)
        self.assertNotEqual(doctored, original)

    def test_a_manual_item_for_no_key(self):
        self.edit("zbeat.conf.5", r"^\.It Ic full-every No = Ar n$", ".It Ic full-evry No = Ar n")
        rc, _, err = self.run_script("--check")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"man/zbeat\.conf\.5:\d+: agent/full-evry: not a key of zbeat-agent")
        self.assertIn("man/zbeat.conf.5: agent/full-every: no item", err)

    def test_a_missing_row_and_a_row_for_no_key(self):
        self.edit("config-monitor.md", r"^\| `phi` \|.*\n", "")
        self.edit("config-monitor.md", r"^\| `flap-quiet` \|", "| `flap-qiuet` |")
        rc, _, err = self.run_script("--check")
        self.assertEqual(rc, 1)
        self.assertIn("docs/config-monitor.md: monitor/phi: no row (zbeat-monitor knows the key)",
                      err)
        self.assertRegex(err, r"docs/config-monitor\.md:\d+: monitor/flap-qiuet: not a key of "
                              r"zbeat-monitor")
        # --write cannot tell what a row for no key was meant to be.
        rc, _, err = self.run_script("--write")
        self.assertEqual(rc, 1)
        self.assertIn("monitor/flap-qiuet: not a key of zbeat-monitor", err)

    def test_write_adds_a_missing_row_but_not_its_meaning(self):
        self.edit("config-monitor.md", r"^\| `phi` \|.*\n", "")
        rc, out, err = self.run_script("--write")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("monitor/phi: added a row; write its meaning", out)
        self.assertRegex(self.read("config-monitor.md"),
                         r"\n\| `phi` \| whole number \| `8` \| `1` \.\. `30` \|  \|\n")
        rc, _, err = self.run_script("--check")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^docs/config-monitor\.md:\d+: monitor/phi: meaning is empty\n$")

    def test_a_table_without_its_comment(self):
        self.edit("config-relay.md", r"^<!-- config-table: zbeat-relay relay -->\n", "")
        rc, _, err = self.run_script("--check")
        self.assertEqual(rc, 1)
        self.assertIn("docs: no table for zbeat-relay section relay", err)


if __name__ == "__main__":
    unittest.main()
