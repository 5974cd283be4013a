-- zbeat schema 8: alerts that fire and resolve without an outage (issue 20).
-- A certificate nearing its notAfter (`cert-expiring`, kind 'cert', key: the
-- notAfter) and a host stopped too long (`stopped`, kind 'stopped', key:
-- when the stop began) each fire one alert per episode; the row says the
-- episode was alerted (so a restarted monitor does not alert again) and,
-- until resolved_at_ms is set, that it still fires: an alertmanager channel
-- restates it every `resend`, and its `resolved` alert ends it.
CREATE TABLE episodes (
    alert_id       TEXT PRIMARY KEY NOT NULL,  -- the firing alert (alerts.id)
    kind           TEXT NOT NULL,              -- cert | stopped
    host           TEXT NOT NULL,
    service        TEXT,                       -- NULL for a host's
    key_ms         INTEGER NOT NULL,           -- cert: notAfter; stopped: its start
    fired_at_ms    INTEGER NOT NULL,
    resolved_at_ms INTEGER                     -- NULL while it fires
);
CREATE INDEX episodes_firing ON episodes (host) WHERE resolved_at_ms IS NULL;
CREATE INDEX episodes_resolved ON episodes (resolved_at_ms) WHERE resolved_at_ms IS NOT NULL;
