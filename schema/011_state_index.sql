-- zbeat schema 11: the problems, indexed (issue 22). What is wrong (GET
-- /metrics?detail=problems|none, /api/v1/summary, /api/v1/status?state=
-- problems, `zbeat status`) is read from these partial indexes instead of
-- every row: a host is in hosts_problems while it is not alive, a service in
-- services_problems while it is not up, so each index holds the problems
-- only (1% of a fleet: 20,000 entries, 0.7 MB at 100,000 hosts × 20
-- services, where a full index of state is 24 MB and slows every insert).
-- The counts by state are these entries plus one count(*) per table (the
-- rest are alive, or up). Keyed by state then name, as the counts read them
-- (covering, in order: each state's first row is the one zb_store_status
-- shows first). zb_store_fleet.c names them (INDEXED BY): a query that can
-- no longer use them fails instead of scanning the fleet.
CREATE INDEX hosts_problems ON hosts (state, name) WHERE state <> 'alive';
CREATE INDEX services_problems ON services (state, host, name) WHERE state <> 'up';
