-- zbeat schema 5: the monitor's own liveness, and how far behind agents'
-- replay it is (issue 11, docs/operations.md "Is the monitor caught up?").
-- Times are wall-clock milliseconds since the Unix epoch.

-- One row, rewritten by the running monitor every heartbeat_ms (5 s) and
-- when it stops: `zbeat status` tells a running monitor from one that is
-- stopped, dead or stuck by how old heartbeat_at_ms is.
CREATE TABLE monitor (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    pid             INTEGER NOT NULL,
    hostname        TEXT NOT NULL DEFAULT '',   -- the machine it runs on
    version         TEXT NOT NULL DEFAULT '',
    started_at_ms   INTEGER NOT NULL,
    heartbeat_at_ms INTEGER NOT NULL,           -- last write of this row
    heartbeat_ms    INTEGER NOT NULL,           -- how often it is written
    stopped_at_ms   INTEGER                     -- a clean stop; NULL while running or after a crash
);

-- What each host's agent last reported over its replay channel: journal
-- entries this monitor has not acknowledged yet. NULL: never reported (no
-- agent/replay pointing here). Only a report of the agent run the host is
-- on now (replay_instance = instance) counts: a run without replay leaves
-- its predecessor's report behind.
ALTER TABLE hosts ADD COLUMN replay_pending INTEGER;
ALTER TABLE hosts ADD COLUMN replay_reported_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN replay_instance TEXT NOT NULL DEFAULT '';
