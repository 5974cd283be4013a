-- Outages by when they ended, for "--since": an outage overlaps a window
-- that starts at :since when it ended at or after :since, or is still open.
-- An open outage sorts as ending at the end of time, so one range scan of
-- these indexes finds exactly the overlapping outages, instead of walking
-- every outage a host ever had (bench/: 1M rows, 21 ms -> 0.1 ms).
CREATE INDEX outages_host_ended ON outages (host, ifnull(ended_at_ms, 9223372036854775807));
CREATE INDEX outages_service_ended ON outages (service, ifnull(ended_at_ms, 9223372036854775807));
CREATE INDEX outages_ended ON outages (ifnull(ended_at_ms, 9223372036854775807));
