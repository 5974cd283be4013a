-- zbeat schema 4: agent journal replay (issue 11, docs/operations.md).
-- Every transition an agent replays is applied at most once: its key is
-- recorded in the same transaction as its effects, and a second copy (the
-- agent resends until acknowledged, and offers its whole journal again after
-- a restart) finds the key and changes nothing.
CREATE TABLE replayed (
    host        TEXT NOT NULL,
    instance    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,   -- monitor wall clock, for pruning
    PRIMARY KEY (host, instance, seq)
) WITHOUT ROWID;
CREATE INDEX replayed_received ON replayed (received_ms);
