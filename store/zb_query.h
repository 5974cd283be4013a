/*  zb_query: the JSON shapes of the database's answers, shared by the zbeat
    CLI (`status`, `outages`, `hosts`, `alerts`, `silence list` with --json)
    and the monitor's HTTP API, so that both print exactly the same objects
    (docs/cli.md is their public definition).

    Text from the database is made harmless on the way out: JSON strings are
    valid UTF-8 (invalid bytes become \xHH), and printable text for tables
    and CSV has control characters escaped as well.
*/
#ifndef ZB_QUERY_H
#define ZB_QUERY_H

#include "zb_store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  How JSON answers are dumped: one line per object, pure ASCII.
#define ZB_QUERY_JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15))

//  A JSON string (null for NULL), or a time as above.
json_t *zb_query_json_text(const char *text);
json_t *zb_query_json_time(int64_t ms);

//  One row of `zbeat status --json`.
json_t *zb_query_status_json(const zb_store_status_t *row);

//  Which status rows to keep (`zbeat status --state --host --service`,
//  GET /api/v1/status?state=&host=&service=); NULL members keep all.
//  states: comma-separated; "problems" stands for every state but up
//  (services) and alive (hosts). host, service: fnmatch globs; a service
//  filter keeps service rows only.
typedef struct {
    const char *states;
    const char *host;
    const char *service;
} zb_query_filter_t;
bool zb_query_status_keeps(const zb_query_filter_t *filter, const zb_store_status_t *row);
//  Whether states (a filter's, as above) keeps problems only: it lists
//  "problems" or states other than up and alive, and nothing else. Such a
//  filter needs only the rows of zb_store_problems.
bool zb_query_states_problems_only(const char *states);
//  Whether text is a glob of name characters and * ? [ ] !, 1..64 long.
bool zb_query_glob_valid(const char *text);

//  Hosts and services counted by state: the summary line of `zbeat
//  status` and GET /api/v1/summary. Beyond ZB_QUERY_STATES_MAX distinct
//  states the rest count as "other".
#define ZB_QUERY_STATES_MAX 12
typedef struct {
    char state[24];
    int64_t count;
} zb_query_count_t;
typedef struct {
    int64_t total;
    int64_t problems; // not up (services), not alive (hosts)
    size_t states;
    zb_query_count_t by_state[ZB_QUERY_STATES_MAX];
} zb_query_tally_t;
typedef struct {
    zb_query_tally_t hosts;
    zb_query_tally_t services;
} zb_query_summary_t;
void zb_query_summary_add(zb_query_summary_t *summary, const zb_store_status_t *row);
//  The summary of every row, as zb_query_summary_add over all of
//  zb_store_status would make it, from zb_store_counts (without reading
//  every row). Returns what zb_store_counts returns (-1: see the store's
//  error).
int zb_query_summary_read(zb_store_t *store, zb_query_summary_t *summary);
//  {"hosts": {"total": N, "problems": N, "states": {"alive": N, ...}},
//   "services": {...}}
json_t *zb_query_summary_json(const zb_query_summary_t *summary);
//  "3 hosts: 2 alive, 1 silent; 6 services: 5 up, 1 down"
void zb_query_summary_line(const zb_query_summary_t *summary, char *buf, size_t size);

//  One row of `zbeat outages --json`; now_ms ends an open outage's duration.
json_t *zb_query_outage_json(const zb_store_outage_t *outage, int64_t now_ms);

//  One row of `zbeat hosts --json`. Its replay report is shown only when
//  the host's current agent run made it (zb_query_host_replay_known).
bool zb_query_host_replay_known(const zb_store_host_t *host);
json_t *zb_query_host_json(const zb_store_host_t *host);

//  One alert of `zbeat alerts --json`, with an empty "deliveries" array
//  that the caller fills with zb_query_delivery_json of its deliveries
//  (rows with a channel).
json_t *zb_query_alert_json(const zb_store_alert_t *alert);
json_t *zb_query_delivery_json(const zb_store_delivery_t *delivery);

//  One row of `zbeat silence list --json`; "active" at now_ms.
json_t *zb_query_silence_json(const zb_store_silence_t *silence, int64_t now_ms);

//  The monitor as its row says (docs/cli.md "monitor"), for `zbeat status`,
//  `zbeat monitor` and GET /api/v1/monitor. row NULL: the database has none.
//  "running" while its heartbeat is younger than ZB_QUERY_MONITOR_STALE
//  periods, "not-heard" when older, "stopped" after a clean stop, "unknown"
//  without a row. Caught up: running, and no host's last replay report
//  (since the monitor started) leaves a transition unacknowledged.
#define ZB_QUERY_MONITOR_STALE 3
const char *zb_query_monitor_state(const zb_store_monitor_t *row, int64_t now_ms);
bool zb_query_monitor_caught_up(const zb_store_monitor_t *row, int64_t now_ms);
json_t *zb_query_monitor_json(const zb_store_monitor_t *row, int64_t now_ms);
//  One line for a terminal, e.g. "monitor: up 3h12m, heard 1.2s ago, caught up".
void zb_query_monitor_line(const zb_store_monitor_t *row, int64_t now_ms, char *buf, size_t size);

void zb_query_test(bool verbose);

#endif
