/*  zb_tally: the monitor's counters (zb_monitor_stats_t, read by the HTTP
    server through zb_monitor_snapshot): gathered from
    the fleet and the datagram reader, the commit-time histogram, the cost
    of checkpoint batches, and the lines that log them.
*/
#ifndef ZB_TALLY_H
#define ZB_TALLY_H

#include "zb_fleet.h"
#include "zb_intake.h"
#include "zb_pulse.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

//  Commit time histogram: bucket i counts commits that took at most
//  bound i (microseconds); the last bucket counts the rest.
#define ZB_MONITOR_COMMIT_BUCKETS 10
#define ZB_MONITOR_COMMIT_BOUNDS_US                                                                \
    {                                                                                              \
        1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000                             \
    }

typedef struct {
    uint64_t messages;       // decoded and accepted
    uint64_t decode_errors;  // malformed, dropped
    uint64_t seq_gaps;       // messages missed, from sequence numbers
    uint64_t stale;          // seq not after the last seen of the same instance
    uint64_t dropped;        // over the host/service caps
    uint64_t conflicts;      // of a rival agent run claiming a host's name, dropped
    uint64_t thin;           // thin beats (protocol v2) applied: liveness only
    uint64_t thin_unsynced;  // of which the digest was not the table held
    uint64_t heard_rows;     // hosts' last-heard checkpointed while running (batches)
    uint64_t heard_us;       // time spent writing and committing them
    uint64_t heard_us_max;   // the longest single checkpoint batch
    uint64_t db_errors;      // failed commits
    uint64_t rejected;       // refused by zb_auth: a host not bound to the sender's key
    uint64_t foreign;        // for a host outside monitor/hosts (a shard's), dropped
    zb_intake_stats_t input; // the input's (zb_intake): dropped, stalls, the reader stuck
    //  For the HTTP server's /metrics and /healthz (zb_monitor_snapshot):
    uint64_t service_outages; // service outages opened since start
    uint64_t host_outages;    // host outages opened since start
    uint64_t db_commits;      // transactions that wrote, committed or failed
    uint64_t db_begins;       // transactions begun (a pass that writes nothing begins none)
    uint64_t db_commit_us;    // time spent committing them
    uint64_t db_commit_buckets[ZB_MONITOR_COMMIT_BUCKETS]; // by time, bounds above
    bool db_ok;        // no write failed in the last pass that wrote (or tried to)
    int64_t pass_mono; // monotonic ms at the end of the last loop pass, 0 before the first

    uint64_t kept_writes; // changes kept in memory after failed commits (zb_store_kept)
    int64_t tls_warn_ms;  // monitor/tls-warn as configured now (the status page's badges)

    //  Liveness datagrams (zb_pulse), when monitor/udp is set:
    uint64_t datagrams;           // read
    uint64_t datagrams_accepted;  // heard their host
    uint64_t datagrams_malformed; // refused: not a datagram of ours
    uint64_t datagrams_forged;    // refused: key not bound to the host, or failed to open
    uint64_t datagrams_plain;     // refused: in clear while CURVE is on
    uint64_t datagrams_replayed;  // refused: sequence number seen before
    uint64_t datagrams_unknown;   // not a known host's current agent run (ignored)
} zb_monitor_stats_t;

//  The fleet's counters (and the datagram reader's, pulse may be NULL),
//  into stats.
void zb_tally_count(zb_monitor_stats_t *stats, zb_fleet_t *fleet, zb_pulse_t *pulse);

//  A commit that wrote and took took_us.
void zb_tally_commit(zb_monitor_stats_t *stats, int64_t took_us);

//  A checkpoint batch begun at start_us (monotonic), when it wrote rows
//  (heard_rows moved from rows_before): the bench reads its cost.
void zb_tally_heard(zb_monitor_stats_t *stats, uint64_t rows_before, int64_t start_us);

//  The stats as of the last pass, for other threads (the HTTP server).
typedef struct {
    pthread_mutex_t lock; // guards stats
    zb_monitor_stats_t stats;
} zb_tally_shared_t;

void zb_tally_shared_init(zb_tally_shared_t *self, const zb_monitor_stats_t *stats);
void zb_tally_shared_destroy(zb_tally_shared_t *self);
void zb_tally_shared_read(zb_tally_shared_t *self, zb_monitor_stats_t *stats);

//  Ends a pass: judges the database's health, stamps the pass and copies
//  stats into shared. committed: a commit that wrote succeeded; kept:
//  writes kept for their retry; locked_out: a transaction cannot begin.
void zb_tally_share(zb_tally_shared_t *shared, zb_monitor_stats_t *stats, bool committed,
                    uint64_t kept, bool locked_out);

//  The periodic debug line, and the lines of a monitor stopping (with the
//  datagrams' when it read any).
void zb_tally_log_debug(const zb_monitor_stats_t *stats);
void zb_tally_log_stop(const zb_monitor_stats_t *stats, bool datagrams);

#endif
