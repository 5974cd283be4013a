/*  zb_store: the monitor's SQLite database (and the CLI's read-only view).

    The only module that knows SQL. The schema lives in schema/NNN_name.sql,
    embedded into the binary at build time and applied in order, one
    transaction per file, tracked with PRAGMA user_version, so a newer monitor
    upgrades an older database in place.

    Writers (the monitor) open read-write: WAL, synchronous=NORMAL, a busy
    timeout, every statement prepared once. Write calls open a transaction
    on demand; zb_store_commit ends it, so the monitor batches all writes of
    one event-loop pass into one transaction. Readers (the CLI) open
    read-only and never block the writer.

    Rows are passed as structs of borrowed pointers: for writes the caller
    owns them; for reads they are valid only during the callback.

    The database carries zbeat's PRAGMA application_id: no open takes
    another application's SQLite file for ours, nor adds a schema to it.

    Implemented in store/: zb_store.c (the connection, migrations,
    transactions), zb_store_redo.c (the redo log of writes kept until their
    commit succeeds, and the binds that fill it), zb_store_fleet.c (hosts, services,
    instances, the monitor's row), zb_store_outage.c (outages, replay,
    pruning, the outage query), zb_store_alert.c (outbox and deliveries),
    zb_store_silence.c.
*/
#ifndef ZB_STORE_H
#define ZB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _zb_store_t zb_store_t;

//  A host's current state: "alive", "silent" or "stopped".
typedef struct {
    const char *name;
    const char *state;
    int64_t since_ms; // wall clock: when it entered this state
    const char *instance;
    int64_t interval_ms;  // announced beat interval, 0 when never announced
    int64_t last_seen_ms; // wall clock, written when it matters (see docs/operations.md)
    //  Read only (zb_store_hosts; written by zb_store_host_heard):
    int64_t replay_pending;      // its agent's last report over replay, -1 when none
    int64_t replay_reported_ms;  // when that report came, 0 when none
    const char *replay_instance; // the agent run that made it ("" when none)
    //  Read only (written by zb_store_host_detector):
    int64_t silence_threshold_ms; // its silence detector's threshold, 0 when not written
    double datagram_loss;         // liveness datagrams lost (0 to 1), -1 when none heard
} zb_store_host_t;

//  The monitor's own row (schema 5): who writes the database, since when,
//  and when it last said so.
typedef struct {
    int64_t pid;
    const char *hostname; // the machine it runs on
    const char *version;
    int64_t started_at_ms;
    int64_t heartbeat_at_ms; // last write of the row
    int64_t heartbeat_ms;    // how often it is written
    int64_t stopped_at_ms;   // a clean stop, -1 while running (or after a crash)
    //  Read only (zb_store_monitor), from the hosts table:
    //  Only reports of each host's current agent run count.
    int64_t hosts_replaying;     // hosts whose last report has entries not acknowledged
    int64_t transitions_pending; // the sum of those entries
    int64_t hosts_unreported;    // alive hosts that report over replay, not since started_at
} zb_store_monitor_t;

//  A service's current state: "up", "down", "unknown" or "stopped".
typedef struct {
    const char *host;
    const char *name;
    const char *kind; // "probe", "push", ...; may be ""
    const char *state;
    int64_t since_ms;
    const char *reason;
    const char *error;
    int64_t tls_expires_ms; // TLS probes: the certificate's notAfter; 0 none
} zb_store_service_t;

//  One outage. kind is "service" or "host"; service is NULL for a host.
typedef struct {
    int64_t id;
    const char *kind;
    const char *host;
    const char *service;
    int64_t started_at_ms;
    int64_t ended_at_ms; // -1 while open
    const char *reason;
    const char *error;
    const char *end_reason; // NULL while open
    const char *instance;
    bool silenced; // a silence held its opening alert
    bool notified; // its opening alert went out to the channels
} zb_store_outage_t;

//  One row of `zbeat status`: a host (service NULL) or one of its services.
typedef struct {
    const char *host;
    const char *service;
    const char *state;
    int64_t since_ms;
    const char *reason;           // NULL for a host row
    const char *error;            // NULL for a host row
    int64_t tls_expires_ms;       // TLS probes: the certificate's notAfter; 0 none
    int64_t silence_threshold_ms; // a host row's (zb_store_host_t); 0 otherwise
    double datagram_loss;         // a host row's; -1 otherwise
} zb_store_status_t;

//  One alert of the outbox. service is NULL for a host alert, outage_id 0
//  when the alert is not about one outage.
typedef struct {
    int64_t seq; // creation order
    const char *id;
    int64_t created_at_ms;
    const char *trigger;
    const char *host;
    const char *service;
    int64_t outage_id;
    const char *payload; // the alert JSON
} zb_store_alert_t;

//  One delivery of an alert to a channel. For `zbeat alerts`, an alert
//  without channels comes with channel NULL.
typedef struct {
    const zb_store_alert_t *alert;
    const char *channel;
    const char *status; // pending | sent | failed | held
    int attempts;
    int64_t next_attempt_at_ms;
    const char *last_error;
    int64_t result;       // exit or HTTP status of the last attempt, -1 when none
    int64_t sent_at_ms;   // -1 until sent
    int64_t queued_at_ms; // when it became pending (retry-for counts from here)
} zb_store_delivery_t;

//  A silence: host and service are glob patterns, service NULL = all.
typedef struct {
    int64_t id;
    const char *host;
    const char *service;
    int64_t starts_at_ms;
    int64_t ends_at_ms;
    const char *reason;
    int64_t created_at_ms;
} zb_store_silence_t;

//  An alert that fires and resolves without an outage (schema 8): a
//  certificate's expiry (kind "cert", key its notAfter) or a host's stop
//  (kind "stopped", key when it began).
typedef struct {
    const char *alert_id; // the firing alert
    const char *kind;
    const char *host;
    const char *service; // NULL for a host's
    int64_t key_ms;
    int64_t fired_at_ms;
} zb_store_episode_t;

//  Filters for zb_store_outages. Unset fields filter nothing.
#define ZB_STORE_NO_TIME INT64_MIN
typedef struct {
    const char *host;    // NULL: every host
    const char *service; // NULL: every service (and host outages)
    int64_t since_ms;    // outages still open at or after this time
    int64_t until_ms;    // outages started at or before this time
    bool open_only;
    int64_t limit; // 0: no limit
} zb_store_query_t;

void zb_store_query_init(zb_store_query_t *query);

typedef int(zb_store_host_fn)(const zb_store_host_t *host, void *arg);
typedef int(zb_store_service_fn)(const zb_store_service_t *service, void *arg);
typedef int(zb_store_outage_fn)(const zb_store_outage_t *outage, void *arg);
typedef int(zb_store_status_fn)(const zb_store_status_t *row, void *arg);
typedef int(zb_store_text_fn)(const char *text, void *arg);
typedef int(zb_store_delivery_fn)(const zb_store_delivery_t *delivery, void *arg);
typedef int(zb_store_silence_fn)(const zb_store_silence_t *silence, void *arg);
typedef int(zb_store_episode_fn)(const zb_store_episode_t *episode, void *arg);

//  Opens (creating and migrating) a database for writing. Returns NULL with
//  a one-line reason in err, also when the file or its directory cannot be
//  written (so the monitor never runs without recording) or the file is
//  another application's.
zb_store_t *zb_store_open(const char *path, char *err, size_t errsize);

//  Opens an existing database read-only. A missing file is "no such
//  database"; an older or newer schema is refused with a clear reason. In a
//  directory the caller cannot write, a database without a -wal file (no
//  monitor running there) is read as immutable: nothing is created.
zb_store_t *zb_store_open_readonly(const char *path, char *err, size_t errsize);

//  Opens an existing database read-write without creating or upgrading it
//  (the CLI's silence commands). Refuses what zb_store_open_readonly does.
zb_store_t *zb_store_open_existing(const char *path, char *err, size_t errsize);

//  Commits any open transaction, then closes.
void zb_store_destroy(zb_store_t **self_p);

//  The schema version of the database, and the newest this binary knows.
int zb_store_version(zb_store_t *self);
int zb_store_latest_version(void);

//  The last error message of a failed call.
const char *zb_store_error(zb_store_t *self);

//  Opens the transaction that the writes up to zb_store_commit join (the
//  first write opens it otherwise), taking the write lock: -1 when another
//  process holds it past the busy timeout (5 s), or on another error. A
//  caller that begins before it changes anything in memory never loses a
//  write to a locked database: it can wait and try again with nothing done.
int zb_store_begin(zb_store_t *self);
//  As zb_store_begin without waiting: -2 at once while another process
//  holds the write lock (the caller tries again later), -1 on another error.
int zb_store_try_begin(zb_store_t *self);
//  Transactions begun so far (by zb_store_begin or a write): the monitor's
//  counter of them.
uint64_t zb_store_begins(zb_store_t *self);
//  Write calls made so far: for a caller's check that some work wrote nothing.
uint64_t zb_store_writes(zb_store_t *self);

//  Ends the transaction zb_store_begin or the write calls opened, if any.
//  On failure the transaction is rolled back and -1 returned (the error is
//  logged); its writes are kept in memory and tried again first by the
//  next transaction, or alone once a second (ZB_STORE_RETRY_MS).
int zb_store_commit(zb_store_t *self);

//  True while writes wait in a transaction that zb_store_commit will end
//  (so the monitor times only commits that write).
bool zb_store_pending(zb_store_t *self);

//  Writes: each returns 0, or -1 with zb_store_error set.
int zb_store_host_put(zb_store_t *self, const zb_store_host_t *host);
//  Forgetting a host (`zbeat hosts forget`, schema 6): its current state
//  removed (host, services, agent runs), its open outages ended at now_ms
//  as "forgotten", its outage history kept. 1 when it was known, else 0;
//  -1 on error. zb_store_forget_ask also leaves it for the running monitor
//  (zb_store_forgotten lists those, zb_store_forget_done takes one off).
int zb_store_host_forget(zb_store_t *self, const char *host, int64_t now_ms);
int zb_store_forget_ask(zb_store_t *self, const char *host, int64_t now_ms);
int zb_store_forgotten(zb_store_t *self, zb_store_text_fn *fn, void *arg);
int zb_store_forget_done(zb_store_t *self, const char *host);
int zb_store_service_put(zb_store_t *self, const zb_store_service_t *service);
int zb_store_service_delete(zb_store_t *self, const char *host, const char *name);
//  A host gone silent or stopped: every service of it not already in state
//  becomes state since since_ms, for reason, with no error. One statement
//  where a row each would be 20 (a storm of silent hosts is mostly these).
int zb_store_services_quiet(zb_store_t *self, const char *host, const char *state, int64_t since_ms,
                            const char *reason);
int zb_store_instance_put(zb_store_t *self, const char *host, const char *instance,
                          int64_t first_seen_ms, uint64_t last_seq);
//  The monitor's row, replaced whole.
int zb_store_monitor_put(zb_store_t *self, const zb_store_monitor_t *monitor);
//  A host's last-seen time and its agent's last replay report, made by agent
//  run replay_instance (pending -1: leaves the report as it is).
int zb_store_host_heard(zb_store_t *self, const char *name, int64_t last_seen_ms,
                        int64_t replay_pending, int64_t replay_reported_ms,
                        const char *replay_instance);
//  A host's silence detector: its threshold and datagram loss (loss < 0:
//  none heard, NULL).
int zb_store_host_detector(zb_store_t *self, const char *name, int64_t threshold_ms, double loss);
//  Changes kept in memory after failed commits, waiting for a retry; 0 when
//  the last commit succeeded.
size_t zb_store_kept(zb_store_t *self);

//  Opens an outage unless one is open already for (kind, host, service);
//  either way *id_p is the open outage's id and *started_p (if not NULL) its
//  start. Returns 1 when it opened one, 0 when one was open, -1 on error.
int zb_store_outage_open(zb_store_t *self, const zb_store_outage_t *outage, int64_t *id_p,
                         int64_t *started_p);

//  Closes an open outage. Returns 1 when closed, 0 when it was not open.
int zb_store_outage_close(zb_store_t *self, int64_t id, int64_t ended_at_ms,
                          const char *end_reason);

//  Replay of agent journals (monitor/zb_replay.c). replay_key records the
//  key of a replayed transition: 1 when new, 0 when seen before (apply
//  nothing), -1 on error. replay_down records a service outage that began
//  at outage->started_at_ms, behind what the monitor already knows, unless
//  an outage covers that moment: closed at bound_ms (when the current state
//  began) with end_reason "replayed" until replay_end, for the transition
//  that ended it, sets the true end (also cutting short an outage whose
//  end was inferred past that moment). A replay_end that finds nothing to
//  end is kept (replay can deliver it before its down): the replay_down it
//  belongs to ends there instead of at bound_ms. Each returns 1 when it
//  wrote, 0 when there was nothing to do, -1 on error.
int zb_store_replay_key(zb_store_t *self, const char *host, const char *instance, uint64_t seq,
                        int64_t now_ms);
int zb_store_replay_down(zb_store_t *self, const zb_store_outage_t *outage, int64_t bound_ms);
//  The last sequence number of (host, instance) whose effects are committed,
//  0 when unknown. Returns 0 or -1.
int zb_store_instance_seq(zb_store_t *self, const char *host, const char *instance, uint64_t *seq);
//  1 when an outage of the service covers at_ms (started at or before it,
//  open or ended after it), 0 when none, -1 on error.
int zb_store_replay_covered(zb_store_t *self, const char *host, const char *service, int64_t at_ms);
int zb_store_replay_end(zb_store_t *self, const char *host, const char *service, int64_t at_ms,
                        const char *end_reason);
//  A replayed down at outage->started_at_ms inside an outage that began
//  earlier, after the service had been up (or stopped): the outage merged
//  two, because the up and the down between were missed (the journal's
//  entries can arrive out of order after a monitor restart). The outage
//  is cut there (a provisional "replayed" end, which the replayed up, when
//  it comes, moves to the true one) and its remainder becomes a second
//  outage from that moment, open or ended as the first one was. Returns 1
//  and the ids when it split, 0 when no outage began before that moment
//  spans it (nothing to do), -1 on error.
int zb_store_replay_split(zb_store_t *self, const zb_store_outage_t *outage, int64_t *cut_id_p,
                          int64_t *new_id_p);

//  Records that an outage's opening alert went out (notified) or was held
//  by a silence (silenced).
int zb_store_outage_flag(zb_store_t *self, int64_t id, bool notified, bool silenced);

//  Deletes up to batch outages (and stale instance rows, and alerts with
//  nothing left to deliver) that ended before before_ms. Returns the number
//  of outages and alerts deleted, or -1.
int zb_store_prune(zb_store_t *self, int64_t before_ms, int batch);

//  Alerts. zb_store_alert_add inserts the alert and one delivery per channel
//  (pending and due at once, or held), unless an alert with that id exists.
//  Returns 1 when inserted, 0 when the id existed, -1 on error.
int zb_store_alert_add(zb_store_t *self, const zb_store_alert_t *alert, const char *const *channels,
                       size_t channel_count, bool held);
//  The same, each delivery due delays_ms[i] after the alert was made (a
//  channel's grace, alert/NAME/after; NULL: all due at once).
int zb_store_alert_add_due(zb_store_t *self, const zb_store_alert_t *alert,
                           const char *const *channels, const int64_t *delays_ms,
                           size_t channel_count, bool held);
//  Holds back for good a delivery not tried yet and due after now_ms (its
//  outage ended within the channel's grace): status held, why as its error,
//  never released. Returns 1 when held back, 0 when it was due or tried
//  already, -1 on error.
int zb_store_delivery_withhold(zb_store_t *self, const char *alert_id, const char *channel,
                               int64_t now_ms, const char *why);
//  Held deliveries of the alert become pending, due at now_ms. Returns the
//  number released, or -1.
int zb_store_alert_release(zb_store_t *self, const char *id, int64_t now_ms);
//  The alert with this id (fn is called once), 0 when there is none.
int zb_store_alert_get(zb_store_t *self, const char *id, zb_store_delivery_fn *fn, void *arg);

//  Episodes (schema 8). add records that the episode's alert was made:
//  1 when new, 0 when it was known (alerted before), -1 on error. resolve
//  ends a firing one: 1 when it did, 0 when it was not firing, -1 on error.
//  firing walks those not resolved, oldest first.
int zb_store_episode_add(zb_store_t *self, const zb_store_episode_t *episode);
int zb_store_episode_resolve(zb_store_t *self, const char *alert_id, int64_t now_ms);
int zb_store_episodes_firing(zb_store_t *self, zb_store_episode_fn *fn, void *arg);

//  The opening alerts (down, silent, stable) sent to the channel whose
//  outage is still open, and the alerts of episodes still firing
//  (cert-expiring, stopped), oldest first: what an alertmanager channel
//  restates.
int zb_store_firing(zb_store_t *self, const char *channel, zb_store_delivery_fn *fn, void *arg);
//  The channel's oldest pending delivery (fn is called at most once).
int zb_store_delivery_next(zb_store_t *self, const char *channel, zb_store_delivery_fn *fn,
                           void *arg);
//  Records an attempt: status, attempts, next attempt, error text, result,
//  sent time (-1: none) for (alert id, channel). Committed at once.
int zb_store_delivery_update(zb_store_t *self, const char *alert_id, const char *channel,
                             const zb_store_delivery_t *update);

//  Alerts created at or after since_ms, newest first, each with its
//  deliveries (an alert without any comes once, channel NULL).
int zb_store_deliveries(zb_store_t *self, int64_t since_ms, int64_t limit, zb_store_delivery_fn *fn,
                        void *arg);

//  Silences. Add sets *id_p; remove ends the silence at now_ms (kept as
//  history) and returns 1, or 0 when there was no such active silence.
int zb_store_silence_add(zb_store_t *self, const zb_store_silence_t *silence, int64_t *id_p);
int zb_store_silence_end(zb_store_t *self, int64_t id, int64_t now_ms);
//  Silences not yet ended at now_ms (ZB_STORE_NO_TIME: all), by id.
int zb_store_silences(zb_store_t *self, int64_t now_ms, zb_store_silence_fn *fn, void *arg);

//  Reads. A callback returning non-zero stops the walk; the call returns
//  that value (or -1 on a database error, 0 when the walk completed).
int zb_store_hosts(zb_store_t *self, zb_store_host_fn *fn, void *arg);
//  The host of that name: fn is called once, or not when there is none.
int zb_store_host_get(zb_store_t *self, const char *name, zb_store_host_fn *fn, void *arg);
int zb_store_services(zb_store_t *self, zb_store_service_fn *fn, void *arg);
int zb_store_open_outages(zb_store_t *self, zb_store_outage_fn *fn, void *arg);
int zb_store_status(zb_store_t *self, zb_store_status_fn *fn, void *arg);
//  The rows of zb_store_status that are problems, and only those: hosts and
//  services in any state but alive and up (what zb_query_status_keeps
//  keeps for the state "problems"), in the same order and shape. Read from
//  schema 11's indexes of the problems: its cost follows the problems, not
//  the fleet.
int zb_store_problems(zb_store_t *self, zb_store_status_fn *fn, void *arg);
//  Hosts (service false), then services, counted by state: fn is called
//  once per state, each table's states in the order zb_store_status first
//  shows them, so that adding the counts gives what counting every row of
//  zb_store_status gives (zb_query_summary_read). The problems from their
//  indexes, the rest (alive, up) as the table's count(*) less those, in one
//  read transaction.
typedef int(zb_store_count_fn)(bool service, const char *state, int64_t count, void *arg);
int zb_store_counts(zb_store_t *self, zb_store_count_fn *fn, void *arg);
//  The monitor's row with its summary of the hosts' replay reports (fn is
//  called at most once: not when no monitor ran on schema 5 yet).
typedef int(zb_store_monitor_fn)(const zb_store_monitor_t *monitor, void *arg);
int zb_store_monitor(zb_store_t *self, zb_store_monitor_fn *fn, void *arg);
//  Newest first.
int zb_store_outages(zb_store_t *self, const zb_store_query_t *query, zb_store_outage_fn *fn,
                     void *arg);
//  EXPLAIN QUERY PLAN of exactly the statement zb_store_outages runs: one
//  line per plan step.
int zb_store_outages_plan(zb_store_t *self, const zb_store_query_t *query, zb_store_text_fn *fn,
                          void *arg);

void zb_store_test(bool verbose);
void zb_store_fleet_test(bool verbose);

#endif
