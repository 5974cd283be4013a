/*  zb_tally: the monitor's counters. See zb_tally.h. */
#include "zb_tally.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <inttypes.h>

void zb_tally_count(zb_monitor_stats_t *stats, zb_fleet_t *fleet, zb_pulse_t *pulse)
{
    assert(stats && fleet);
    zb_fleet_counts_t counts;
    zb_fleet_counts(fleet, &counts);
    stats->messages = counts.messages;
    stats->seq_gaps = counts.seq_gaps;
    stats->stale = counts.stale;
    stats->dropped = counts.dropped;
    stats->conflicts = counts.conflicts;
    stats->thin = counts.thin;
    stats->thin_unsynced = counts.thin_unsynced;
    stats->service_outages = counts.service_outages;
    stats->host_outages = counts.host_outages;
    if (pulse) {
        zb_pulse_stats_t datagrams;
        zb_pulse_stats(pulse, &datagrams);
        stats->datagrams = datagrams.received;
        stats->datagrams_accepted = datagrams.accepted;
        stats->datagrams_malformed = datagrams.malformed;
        stats->datagrams_forged = datagrams.forged;
        stats->datagrams_plain = datagrams.plain;
        stats->datagrams_replayed = datagrams.replayed;
        stats->datagrams_unknown = datagrams.unknown;
    }
}

void zb_tally_commit(zb_monitor_stats_t *stats, int64_t took_us)
{
    assert(stats);
    static const int64_t bounds[] = ZB_MONITOR_COMMIT_BOUNDS_US;
    size_t i = 0;
    while (i + 1 < ZB_MONITOR_COMMIT_BUCKETS && took_us > bounds[i])
        i++;
    stats->db_commit_buckets[i]++;
    stats->db_commits++;
    stats->db_commit_us += (uint64_t)took_us;
}

void zb_tally_heard(zb_monitor_stats_t *stats, uint64_t rows_before, int64_t start_us)
{
    assert(stats);
    if (stats->heard_rows == rows_before)
        return;
    uint64_t took = (uint64_t)(zb_time_mono_us() - start_us);
    stats->heard_us += took;
    if (took > stats->heard_us_max)
        stats->heard_us_max = took;
}

void zb_tally_shared_init(zb_tally_shared_t *self, const zb_monitor_stats_t *stats)
{
    assert(self && stats);
    pthread_mutex_init(&self->lock, NULL);
    self->stats = *stats;
}

void zb_tally_shared_destroy(zb_tally_shared_t *self)
{
    assert(self);
    pthread_mutex_destroy(&self->lock);
}

void zb_tally_shared_read(zb_tally_shared_t *self, zb_monitor_stats_t *stats)
{
    assert(self && stats);
    pthread_mutex_lock(&self->lock);
    *stats = self->stats;
    pthread_mutex_unlock(&self->lock);
}

void zb_tally_share(zb_tally_shared_t *shared, zb_monitor_stats_t *stats, bool committed,
                    uint64_t kept, bool locked_out)
{
    assert(shared && stats);
    //  Unhealthy (/healthz) while a write or commit of this pass failed,
    //  writes are kept for their retry, or the database is locked; healthy
    //  again only after a commit that wrote (a begun pass that writes
    //  nothing commits "ok" without touching the kept writes).
    stats->kept_writes = kept;
    if (stats->db_errors != shared->stats.db_errors || stats->kept_writes > 0 || locked_out)
        stats->db_ok = false;
    else if (committed)
        stats->db_ok = true;
    stats->pass_mono = zb_time_mono_ms();
    //  Only this thread writes shared: reading its db_errors unlocked is safe.
    pthread_mutex_lock(&shared->lock);
    shared->stats = *stats;
    pthread_mutex_unlock(&shared->lock);
}

void zb_tally_log_debug(const zb_monitor_stats_t *stats)
{
    assert(stats);
    zb_log_debug("stats: messages=%" PRIu64 " decode_errors=%" PRIu64 " seq_gaps=%" PRIu64
                 " stale=%" PRIu64 " dropped=%" PRIu64 " db_errors=%" PRIu64 " db_begins=%" PRIu64
                 " db_commits=%" PRIu64,
                 stats->messages, stats->decode_errors, stats->seq_gaps, stats->stale,
                 stats->dropped, stats->db_errors, stats->db_begins, stats->db_commits);
}

void zb_tally_log_stop(const zb_monitor_stats_t *stats, bool datagrams)
{
    assert(stats);
    zb_log_info("monitor stopping: messages=%" PRIu64 " decode_errors=%" PRIu64 " seq_gaps=%" PRIu64
                " stale=%" PRIu64 " dropped=%" PRIu64 " db_errors=%" PRIu64 " rejected=%" PRIu64
                " conflicts=%" PRIu64 " foreign=%" PRIu64 " thin=%" PRIu64 " thin_unsynced=%" PRIu64
                " heard_rows=%" PRIu64 " heard_us=%" PRIu64 " heard_us_max=%" PRIu64
                " input_dropped=%" PRIu64 " input_stalls=%" PRIu64,
                stats->messages, stats->decode_errors, stats->seq_gaps, stats->stale,
                stats->dropped, stats->db_errors, stats->rejected, stats->conflicts, stats->foreign,
                stats->thin, stats->thin_unsynced, stats->heard_rows, stats->heard_us,
                stats->heard_us_max, stats->input.dropped, stats->input.stalls);
    if (datagrams)
        zb_log_info("datagrams: read=%" PRIu64 " accepted=%" PRIu64 " malformed=%" PRIu64
                    " forged=%" PRIu64 " plain=%" PRIu64 " replayed=%" PRIu64 " unknown=%" PRIu64,
                    stats->datagrams, stats->datagrams_accepted, stats->datagrams_malformed,
                    stats->datagrams_forged, stats->datagrams_plain, stats->datagrams_replayed,
                    stats->datagrams_unknown);
}
