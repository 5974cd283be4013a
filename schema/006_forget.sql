-- zbeat schema 6: hosts forgotten by `zbeat hosts forget` (issue 18).
-- The CLI removes a decommissioned host's current state (hosts, services,
-- instances; its open outages end as `forgotten`, history stays) and leaves
-- a row here; the running monitor reads this table every second, drops the
-- host from memory (removing again whatever it wrote meanwhile) and deletes
-- the row. A host that speaks again afterwards is simply new.
CREATE TABLE forgotten (
    host  TEXT PRIMARY KEY NOT NULL,
    at_ms INTEGER NOT NULL               -- when it was forgotten
);
