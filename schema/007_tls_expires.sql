-- zbeat schema 6: TLS probes' certificate expiry (issue 16).
-- The peer certificate's notAfter as the agent last reported it
-- (`tls_expires` in beats), wall-clock milliseconds since the Unix epoch;
-- NULL for services that are not TLS probes or have not had a handshake.
ALTER TABLE services ADD COLUMN tls_expires_ms INTEGER;
