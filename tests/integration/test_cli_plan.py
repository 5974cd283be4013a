"""Outage queries stay index-driven on a large history: EXPLAIN QUERY PLAN of
the exact statement `zbeat outages` runs, over a database with 1,000,000
outages (issue 3)."""

import sqlite3
import time

import zbtest
from monitor_helpers import MonitorCase

ROWS = 1000000
HOSTS = 1000


class CliPlanTest(MonitorCase):

    def setUp(self):
        super().setUp()
        # The monitor creates the database with its schema; the history is
        # generated in one statement.
        self.start_monitor()
        self.stop_monitor()
        db = sqlite3.connect(self.db)
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -200000")
        db.execute("""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO outages (kind, host, service, started_at_ms, ended_at_ms, reason,
                                 end_reason)
            SELECT 'service', 'h-' || (i % ?), 's-' || (i % 7), 1700000000000 + i * 1000,
                   1700000000000 + i * 1000 + 500, 'refused', 'up' FROM n""", (ROWS - 1, HOSTS))
        # A few open ones, found through the partial index.
        db.execute("INSERT INTO outages (kind, host, service, started_at_ms, reason) "
                   "VALUES ('service', 'h-17', 's-open', 1800000000000, 'timeout')")
        db.commit()
        self.assertEqual(db.execute("SELECT count(*) FROM outages").fetchone()[0], ROWS + 1)
        db.close()

    def plan(self, *args):
        rc, out, err = self.cli("outages", "--explain", *args)
        self.assertEqual(rc, 0, err)
        return out.strip().splitlines()

    def assert_index_driven(self, plan, index):
        self.assertTrue(any(line.startswith("SEARCH outages USING INDEX %s" % index)
                            for line in plan), plan)
        self.assertFalse(any(line == "SCAN outages" for line in plan), plan)

    def test_per_host_and_per_service_queries_use_an_index(self):
        self.assert_index_driven(self.plan("--host", "h-17"), "outages_host_started")
        # With --since, the outages that ended since then (schema/003): a
        # range of the ended-at index, not every outage the host ever had.
        self.assert_index_driven(self.plan("--host", "h-17", "--since", "30d", "--until", "1d"),
                                 "outages_host_ended")
        self.assert_index_driven(self.plan("--service", "s-3", "--since", "2h"),
                                 "outages_service_ended")
        self.assert_index_driven(self.plan("--since", "2h"), "outages_ended")
        self.assert_index_driven(self.plan("--host", "h-17", "--open"), "outages_")
        self.assert_index_driven(self.plan("--service", "s-3", "--limit", "10"),
                                 "outages_service_started")
        plan = self.plan("--open")
        self.assertIn("SCAN outages USING INDEX outages_open", plan)
        plan = self.plan("--limit", "20")
        self.assertIn("SCAN outages USING INDEX outages_started", plan)
        self.assertNotIn("USE TEMP B-TREE FOR ORDER BY", plan)

    def test_per_host_query_is_fast_and_right(self):
        t = time.monotonic()
        rows = self.cli_json("outages", "--host", "h-17")
        took = time.monotonic() - t
        self.assertEqual(len(rows), ROWS // HOSTS + 1)
        self.assertEqual(rows[0]["service"], "s-open")  # newest first
        self.assertTrue(all(r["host"] == "h-17" for r in rows))
        # An index lookup, not a scan of a million rows: far below a second
        # even with the process start (generous for sanitizer builds).
        self.assertLess(took, 2.0 * zbtest.SLOW)
        self.assertEqual([r["service"] for r in self.cli_json("outages", "--open")], ["s-open"])


if __name__ == "__main__":
    zbtest.main()
