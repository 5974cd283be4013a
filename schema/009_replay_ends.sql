-- zbeat schema 9: a replayed end that came before its down (issue 18).
-- Replay can deliver a journal out of its order: an entry in flight to a
-- killed monitor run is sent again only after later ones were acked. A
-- replayed up (or removed, stopped) that finds no outage to end is kept
-- here; the replayed down it belongs to, when it comes, ends there instead
-- of at the service's current state, and takes the row.
CREATE TABLE replay_ends (
    host       TEXT NOT NULL,
    service    TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,   -- the agent's time of the transition
    end_reason TEXT NOT NULL,      -- the state it went to
    PRIMARY KEY (host, service, at_ms)
) WITHOUT ROWID;
CREATE INDEX replay_ends_at ON replay_ends (at_ms);
