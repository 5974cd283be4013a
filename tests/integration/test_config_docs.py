"""scripts/config_docs.py: the key tables of docs/config-*.md against the
daemons' own (`--config-table`). On copies of the docs, doctored: a wrong
cell, a missing row, a row for no key and a table without its comment each
fail --check with the file, key and column named; --write puts the
program's cells back and leaves the rest of the file as it was."""

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

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_script(self, mode):
        proc = subprocess.run(
            [sys.executable, SCRIPT, mode, "--build-dir", zbtest.BUILD_DIR,
             "--docs-dir", self.docs],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
            timeout=60)
        return proc.returncode, proc.stdout, proc.stderr

    def read(self, name):
        with open(os.path.join(self.docs, name), encoding="utf-8") as f:
            return f.read()

    def edit(self, name, pattern, replacement):
        """Replaces the one match of pattern (a regex, multi-line)."""
        text = self.read(name)
        new, count = re.subn(pattern, replacement, text, flags=re.M)
        self.assertEqual(count, 1, pattern)
        with open(os.path.join(self.docs, name), "w", encoding="utf-8") as f:
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
