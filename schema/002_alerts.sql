-- zbeat schema 2: alerting. An outbox of alerts, one delivery row per alert
-- and channel, silences. docs/alerts.md describes the rules.
-- Times are wall-clock milliseconds since the Unix epoch.

-- Whether the opening alert of an outage (down, silent, or a "stable"
-- notice after flapping) went out to the channels: its recovery is sent only
-- then. `silenced` (schema 1) is set when a silence held that alert.
ALTER TABLE outages ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;

-- Every alert, written in the same transaction as the change that caused
-- it. `id` is stable ("web-1/redis/42/down"): receivers de-duplicate on it.
CREATE TABLE alerts (
    seq           INTEGER PRIMARY KEY,          -- creation order
    id            TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    trigger       TEXT NOT NULL,                -- down | silent | recovered | flapping | stable | reminder
    host          TEXT NOT NULL,
    service       TEXT,                         -- NULL for a host alert
    outage_id     INTEGER,                      -- NULL when not about one outage
    payload       TEXT NOT NULL                 -- the alert JSON, as delivered
);
CREATE INDEX alerts_created ON alerts (created_at_ms);
CREATE INDEX alerts_outage ON alerts (outage_id);

-- One row per alert and channel. pending: to be (re)tried at
-- next_attempt_at_ms; sent; failed (given up); held (a silence holds it).
CREATE TABLE deliveries (
    alert_id           TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'held')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    queued_at_ms       INTEGER NOT NULL,        -- became pending (made, or released)
    next_attempt_at_ms INTEGER NOT NULL,
    last_error         TEXT NOT NULL DEFAULT '',
    result             INTEGER,                 -- exit status (exec) or HTTP status (webhook)
    sent_at_ms         INTEGER,
    PRIMARY KEY (alert_id, channel)
);
CREATE INDEX deliveries_pending ON deliveries (channel) WHERE status = 'pending';

-- Maintenance windows: alerts of matching outages are held (the outages are
-- still recorded). host and service are glob patterns; service NULL = the
-- host's own alerts and every service's.
CREATE TABLE silences (
    id            INTEGER PRIMARY KEY,
    host          TEXT NOT NULL,
    service       TEXT,
    starts_at_ms  INTEGER NOT NULL,
    ends_at_ms    INTEGER NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_at_ms);
