-- zbeat schema 1: current state of hosts and services, outage history.
-- Applied by zb_store in one transaction; PRAGMA user_version tracks it.
-- Times are wall-clock milliseconds since the Unix epoch.

-- Current state of every host, written on transitions (not on every beat).
CREATE TABLE hosts (
    name         TEXT PRIMARY KEY NOT NULL,
    state        TEXT NOT NULL,                 -- alive | silent | stopped
    since_ms     INTEGER NOT NULL,
    instance     TEXT NOT NULL DEFAULT '',      -- the agent run last heard
    interval_ms  INTEGER NOT NULL DEFAULT 0,    -- its announced beat interval
    last_seen_ms INTEGER NOT NULL DEFAULT 0     -- checkpointed, see docs/operations.md
);

-- Current state of every service, written on transitions.
CREATE TABLE services (
    host     TEXT NOT NULL,
    name     TEXT NOT NULL,
    kind     TEXT NOT NULL DEFAULT '',
    state    TEXT NOT NULL,                     -- up | down | unknown | stopped
    since_ms INTEGER NOT NULL,
    reason   TEXT NOT NULL DEFAULT '',
    error    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (host, name)
);

-- Every outage: a service down, or a host silent. Open while ended_at_ms
-- is NULL.
CREATE TABLE outages (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('service', 'host')),
    host          TEXT NOT NULL,
    service       TEXT,                         -- NULL for a host outage
    started_at_ms INTEGER NOT NULL,
    ended_at_ms   INTEGER,
    reason        TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    end_reason    TEXT,                         -- up | stopped | removed | back
    instance      TEXT NOT NULL DEFAULT '',     -- agent run that reported it
    silenced      INTEGER NOT NULL DEFAULT 0    -- for alert silences (later)
);

-- At most one open outage per host or service: recording twice is
-- impossible, whatever the code above does.
CREATE UNIQUE INDEX outages_open ON outages (host, kind, ifnull(service, ''))
    WHERE ended_at_ms IS NULL;
CREATE INDEX outages_host_started ON outages (host, started_at_ms);
CREATE INDEX outages_service_started ON outages (service, started_at_ms);
CREATE INDEX outages_started ON outages (started_at_ms);

-- Agent runs seen per host, with the last sequence number whose effects
-- are committed (replay after gaps builds on this).
CREATE TABLE instances (
    host          TEXT NOT NULL,
    instance      TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (host, instance)
);
