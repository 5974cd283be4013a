-- zbeat schema 10: each host's silence detector (issue 23, docs/operations.md
-- "The silence detector"), as the running monitor last wrote it (every few
-- seconds, when it moved). NULL until written; datagram_loss stays NULL for a
-- host heard over ZeroMQ only.
ALTER TABLE hosts ADD COLUMN silence_threshold_ms INTEGER;
ALTER TABLE hosts ADD COLUMN datagram_loss REAL;
