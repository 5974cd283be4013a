/*  zb_fleet: the monitor's picture of the fleet, as a pure state machine.

    Hosts (by name), each with its services (by name), their states and
    open outages. Decoded messages and the clocks go in (zb_fleet_quiet
    then zb_fleet_handle, zb_fleet_replay, zb_fleet_sweep); every effect
    comes out, in order, through the sink the owner gave: rows to write,
    outages to open and close (the owner's store numbers them), state
    changes to publish, and the moments the alerting policy acts on. No
    sockets, no SQL here: the self-test scripts message sequences against
    a sink that records them.

    Outage rules (docs/operations.md has the user's version):
    - service down (event or beat) opens a service outage unless one is open;
      up closes it ("up"), stopped closes it ("stopped"), removal closes it
      ("removed"); unknown changes nothing.
    - a host quiet for its silence threshold (zb_detector: adaptive, from
      what was heard of it; liveness x its beat interval when heard over
      ZeroMQ alone) is silent: one host outage from the time it was last
      heard, its services unknown (their open outages stay open). Any new
      message closes it ("back"); a liveness datagram only keeps an alive
      host alive (zb_fleet_heard).
    - a planned stop (host event to stopped) makes it stopped: no outage.
    - a thin beat (protocol v2) is liveness only: it never changes services.
      Its digest matching the last full beat's says the state is current;
      otherwise the monitor holds what it has until the next full beat.
    - messages of an agent run whose sequence number is not after the last
      one applied are stale (counted, ignored); a new run starts over.
    - replayed transitions (agents' journals) are applied as if heard live
      when newer than what is known, else only fill history (see
      zb_fleet_replay).
    - two agent runs claiming one name (a cloned VM): a new instance takes
      over (a restart); the one it displaced speaking again at least one
      beat interval later proves a conflict (a crashed run's last queued
      messages come within milliseconds). The current instance stays
      authoritative, the rival's messages are dropped (counted), the host
      reads "name-conflict". It ends when either run is quiet for liveness
      x the interval (the authoritative one quiet: the rival takes over).

    Host and service structs are visible so the owner and the alerting
    policy can read them; only zb_fleet changes them, except `alert`, which
    is the policy's (zb_policy) and which zb_fleet only frees.
*/
#ifndef ZB_FLEET_H
#define ZB_FLEET_H

#include "zb_detector.h"
#include "zb_heap.h"
#include "zb_proto.h"
#include "zb_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Limits on what one monitor tracks; beyond them messages are dropped (and
//  logged once), so hostile input cannot exhaust memory.
#define ZB_FLEET_MAX_HOSTS 10000    // the default; zb_fleet_set_max_hosts
#define ZB_FLEET_MAX_SERVICES 10000 // per host
//  Before a host announces its interval (its first beat was lost), assume a
//  long one: a false "silent" is worse than a late one.
#define ZB_FLEET_UNKNOWN_INTERVAL_MS 60000

typedef enum { ZB_FLEET_ALIVE, ZB_FLEET_SILENT, ZB_FLEET_STOPPED } zb_fleet_host_state_t;

//  "alive", "silent", "stopped" (the hosts table's words).
const char *zb_fleet_host_state_name(zb_fleet_host_state_t state);

//  The alerting policy's marks on an outage's owner (zb_policy): kept here
//  so they live and die with the host or service. `flaps` is malloc'd.
typedef struct {
    bool notified;        // the outage's opening alert went out
    bool held;            // the outage's opening alert is held by a silence
    int64_t reminded;     // reminders made for the outage
    int64_t *flaps;       // ring of the last flap_threshold + 1 transition times (mono)
    int flap_count;       // entries in the ring
    int flap_next;        // where the next goes
    bool flapping;        // one flapping alert made; quiet until stable
    bool flap_notified;   // that alert went out (not held)
    int64_t flap_id;      // wall ms when the flapping began: names the episode
    int64_t changed_mono; // last transition between up and down
    int64_t stop_alerted; // a host's: since_ms of the stop a stopped alert was made for
    int64_t cert_ms;      // a service's: notAfter (ms) of the certificate alerted (or found so)
} zb_fleet_marks_t;

//  A fleet holds millions of these (100,000 hosts x 20): the texts most
//  services leave empty or short are not kept at their longest. An error
//  is kept apart, only while there is one; the name is as long as it is.
typedef struct {
    char kind[ZB_KIND_MAX + 1];
    zb_state_t state;
    int64_t since_ms;
    char reason[ZB_REASON_MAX + 1];
    char *error;               // NULL when none (zb_fleet_service_error)
    int64_t outage_id;         // open service outage, 0 when none
    int64_t outage_started_ms; // its start
    bool listed;               // seen in the beat being reconciled
    int64_t tls_expires;       // TLS probes: the certificate's notAfter (Unix s); 0 none
    zb_fleet_marks_t alert;    // the alerting policy's
    char name[];               // at most ZB_NAME_MAX bytes
} zb_fleet_service_t;

//  A service's error, "" when none.
static inline const char *zb_fleet_service_error(const zb_fleet_service_t *service)
{
    return service->error ? service->error : "";
}

typedef struct _zb_fleet_host_t zb_fleet_host_t;
struct _zb_fleet_host_t {
    //  What every message reads or writes comes first, packed: at 100,000
    //  hosts a host is rarely in the cache, and each of its lines a message
    //  touches is a miss (docs/benchmarks.md, "Monitor's own cost").
    char name[ZB_NAME_MAX + 1];
    char instance[ZB_INSTANCE_LEN + 1]; // agent run last heard, "" when none
    //  Thin beats (protocol v2): the digest of the last full beat applied.
    //  A thin beat with this digest says nothing changed; with another one
    //  (a change whose full beat was missed) or while unknown (new, back from
    //  silence, restarted, an event applied since), the services stay as
    //  they are until the next full beat.
    bool digest_known;
    bool conflict_loaded; // a previous run left it in a conflict: alerted already
    zb_fleet_host_state_t state;
    uint64_t last_seq;      // 0: unknown (no gap counted)
    int64_t interval_ms;    // announced beat interval, 0 when not yet
    int64_t last_seen_mono; // deadline base
    int64_t last_seen_wall; // host outage start when it goes silent
    uint64_t digest;
    zb_heap_node_t due;              // in the fleet's heap of deadlines
    char rival[ZB_INSTANCE_LEN + 1]; // a proven name conflict: the other run, "" when none
    zb_detector_t detector;          // its arrivals: the silence threshold (zb_detector)

    int64_t last_seen_written; // last_seen_wall as the owner's store has it
    //  The owner's checkpoint queue of last-heard times (zb_fleet_heard_next):
    //  hosts in the order they were last checkpointed, oldest first.
    zb_fleet_host_t *heard_prev;
    zb_fleet_host_t *heard_next;
    int64_t heard_mono; // when it was last checkpointed, 0 not yet (new)
    int64_t since_ms;
    int64_t outage_id;         // open host outage, 0 when none
    int64_t outage_started_ms; // its start
    zb_fleet_marks_t alert;    // the alerting policy's
    zb_table_t *services;      // name -> zb_fleet_service_t (zb_fleet_service_first)
    bool cap_logged;           // the services cap was hit and said so
    bool replay_known;         // its agent reported over replay (zb_fleet_replay_status)
    uint64_t replay_pending;   // the last report: journal entries not acknowledged
    int64_t replay_wall;       // when it came
    char replay_instance[ZB_INSTANCE_LEN + 1]; // the agent run that made it
    bool replay_dirty;                         // not written since
    char displaced[ZB_INSTANCE_LEN + 1];       // the run `instance` took over from, "" none
    int64_t displaced_mono;                    // when it did
    int64_t displaced_interval_ms;             // the displaced run's beat interval
    int64_t rival_seen_mono;                   // the rival was last heard (its messages dropped)
    int64_t conflict_ms;       // wall ms the conflict was proven (names the episode)
    int64_t loaded_mono;       // when it was loaded (conflict_loaded expires a window later)
    uint64_t datagrams;        // liveness datagrams heard (zb_fleet_heard)
    int64_t threshold_written; // the owner's: threshold and loss as its store has them
    double loss_written;
};

//  The hosts table's word for a host: its state's, or "name-conflict"
//  while two live agent runs claim its name.
const char *zb_fleet_host_word(const zb_fleet_host_t *host);

//  Where the effects go, called synchronously and in order. Writes return
//  nothing: a failed write is the owner's to count; the state goes on.
typedef struct {
    //  Rows: a host's (state, instance, interval, last seen), a service's,
    //  a service gone, an agent run's last sequence number applied.
    void (*host_put)(void *arg, zb_fleet_host_t *host);
    void (*service_put)(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service);
    void (*service_delete)(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service);
    //  The host went quiet (silent, stopped): its services that were not
    //  unknown are now unknown since since_ms for reason, with no error
    //  (their structs say so already); one write for all of them.
    void (*services_quiet)(void *arg, zb_fleet_host_t *host, int64_t since_ms, const char *reason);
    void (*instance_put)(void *arg, const char *host, const char *instance, int64_t now_wall,
                         uint64_t seq);
    //  Opens an outage (service NULL: the host's) unless one is open; either
    //  way *id and *started are the open one's. 1 opened, 0 was open, -1 failed.
    int (*outage_open)(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service,
                       int64_t started_ms, const char *reason, const char *error, int64_t *id,
                       int64_t *started);
    //  1 closed, 0 was not open, -1 failed.
    int (*outage_close)(void *arg, int64_t id, int64_t ended_ms, const char *end_reason);
    //  A state change (service NULL: the host's), after it is made.
    void (*state)(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service, const char *from,
                  const char *to, int64_t at_ms, const char *reason);
    //  For the alerting policy: a service changed between up and down (before
    //  its outage opens or closes); an outage opened (after the host went
    //  quiet, for a host); an outage closed.
    void (*flip)(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service, zb_state_t to,
                 const char *reason, const char *error);
    void (*opened)(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service);
    void (*closed)(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service, int64_t id,
                   int64_t started_ms, int64_t ended_ms, const char *end_reason);
    //  Replay (zb_fleet_replay): the (host, instance, seq) key, 1 new, 0 seen,
    //  -1 failed; 1 when an outage of the service covers at_ms, 0 none, -1
    //  failed; history behind the current state (a down bounded at bound_ms,
    //  or the end of the outage spanning msg->at_ms).
    int (*replay_key)(void *arg, const zb_msg_t *msg, int64_t now_wall);
    int (*replay_covered)(void *arg, const zb_msg_t *msg);
    void (*replay_down)(void *arg, const zb_msg_t *msg, int64_t bound_ms);
    void (*replay_end)(void *arg, const zb_msg_t *msg);
    //  A replayed down (from up or stopped) inside an outage that began
    //  before it: that outage merged two (zb_store_replay_split). 1 when it
    //  was split (*cut_id the outage cut at msg->at_ms, *new_id the part
    //  from there on), 0 nothing to split, -1 failed.
    int (*replay_split)(void *arg, const zb_msg_t *msg, int64_t *cut_id, int64_t *new_id);
    //  A name conflict proven (begun) or over, after the host's row says so.
    void (*conflict)(void *arg, zb_fleet_host_t *host, bool begun);
} zb_fleet_sink_t;

typedef struct {
    uint64_t messages;        // applied
    uint64_t seq_gaps;        // messages missed, from sequence numbers
    uint64_t stale;           // seq not after the last applied of the same instance
    uint64_t dropped;         // over the host/service caps
    uint64_t service_outages; // service outages opened
    uint64_t host_outages;    // host outages opened
    uint64_t conflicts;       // messages of a rival run of a host's name, dropped
    uint64_t thin;            // thin beats applied (liveness only)
    uint64_t thin_unsynced;   // of which the digest was not the one held: state left as is
    uint64_t stops;           // hosts that entered a stop (zb_episodes walks when it moves)
    uint64_t certs;           // services' certificate expiries that changed (likewise)
} zb_fleet_counts_t;

typedef struct _zb_fleet_t zb_fleet_t;

//  sink (and what it points to) must outlive the fleet. liveness: beats a
//  host may miss before it is silent.
zb_fleet_t *zb_fleet_new(const zb_fleet_sink_t *sink, void *arg, int liveness);
void zb_fleet_destroy(zb_fleet_t **self_p);
void zb_fleet_set_liveness(zb_fleet_t *self, int liveness);
//  Hosts tracked at most (monitor/max-hosts); known hosts stay when it is
//  lowered, new ones are dropped while over it.
void zb_fleet_set_max_hosts(zb_fleet_t *self, size_t max_hosts);
//  The adaptive detector's bounds and suspicion threshold (zb_detector);
//  until set: 1 s, 10 s, 8.
void zb_fleet_set_detector(zb_fleet_t *self, int64_t min_ms, int64_t max_ms, double phi);

//  The owner's input dropped messages, the last at at_mono (its input
//  was full): any of them may have been any host's, so no alive host is
//  silent before a threshold has passed since then. While input is being
//  dropped, no host is flagged silent: the monitor cannot tell.
void zb_fleet_input_lost(zb_fleet_t *self, int64_t at_mono);

//  A liveness datagram (zb_pulse): the host's current agent run (instance)
//  is alive at now_mono. Returns 0 when it counted, -1 when the host is
//  unknown, not alive (a silent host comes back with its next message, which
//  carries its services' states), or the datagram is another run's.
int zb_fleet_heard(zb_fleet_t *self, const char *host, const char *instance, uint64_t seq,
                   int64_t interval_ms, int64_t now_mono, int64_t now_wall);

//  A host's current silence threshold (ms): how long it may be unheard.
int64_t zb_fleet_threshold(zb_fleet_t *self, const zb_fleet_host_t *host);
//  A decoded message from an agent (beat or event) takes two calls, which
//  share one lookup of its host. First zb_fleet_quiet: it sets *host_p to
//  the host msg names (NULL when not known) and returns true when
//  zb_fleet_handle will change memory alone for msg: a beat of a known,
//  alive host, from the agent run and at the beat interval held, thin, or
//  full with the digest of the table its services follow. Such a message
//  writes no row (host, service, outage or instance). Any other may write,
//  so its owner handles it inside a transaction begun before anything
//  changes in memory: a locked database then loses nothing.
bool zb_fleet_quiet(zb_fleet_t *self, const zb_msg_t *msg, zb_fleet_host_t **host_p);
//  Then zb_fleet_handle applies msg, heard at the clocks. host is what
//  zb_fleet_quiet set, with no host added or forgotten since; when NULL,
//  the host is new and is made (unless over the cap).
void zb_fleet_handle(zb_fleet_t *self, const zb_msg_t *msg, zb_fleet_host_t *host, int64_t now_mono,
                     int64_t now_wall);

//  One transition replayed from an agent's journal (an event), applied at
//  most once per (host, instance, seq) (sink->replay_key): newer than what
//  is known of the service (or the service unknown), as if heard live;
//  older, only the outage history behind the current state. Either way,
//  live messages of that agent run up to its seq are stale from then on (a
//  beat queued before it must not undo it). Returns 1 when applied, 0 when
//  seen before, -1 on error (not applied).
int zb_fleet_replay(zb_fleet_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall);

//  Hosts quiet for their threshold go silent: only the hosts whose
//  deadline is due are looked at (a heap of deadlines, not a walk).
void zb_fleet_sweep(zb_fleet_t *self, int64_t now_mono, int64_t now_wall);

//  No host goes silent before this monotonic time (at most now_mono + a
//  day): the owner's next sweep. The top of the heap of hosts' deadlines
//  (each a lower bound, made exact when popped); a reload of liveness or
//  the detector recomputes them all.
int64_t zb_fleet_deadline(zb_fleet_t *self, int64_t now_mono);

//  An agent's replay report: -1 for an unknown host; 1 when it should be
//  written now (first since started_wall, or it changed), else 0.
int zb_fleet_replay_status(zb_fleet_t *self, const char *host, const char *instance,
                           uint64_t pending, int64_t now_wall, int64_t started_wall);

//  State a previous run left (the owner's store), loaded before any input.
//  Hosts first, then their services, then open outages (which may create
//  both). NULL when not loaded (invalid name, unknown host, out of memory:
//  *failed tells the last).
zb_fleet_host_t *zb_fleet_load_host(zb_fleet_t *self, const char *name, const char *state,
                                    int64_t since_ms, const char *instance, int64_t interval_ms,
                                    int64_t last_seen_wall, uint64_t last_seq, int64_t now_mono,
                                    bool *failed);
zb_fleet_service_t *zb_fleet_load_service(zb_fleet_t *self, const char *host, const char *name,
                                          const char *state, int64_t since_ms, const char *kind,
                                          const char *reason, const char *error,
                                          int64_t tls_expires, bool *failed);
//  An open outage (service NULL: the host's, which makes it silent);
//  *host_p and *service_p say whose (NULL when skipped).
int zb_fleet_load_outage(zb_fleet_t *self, const char *host, const char *service, int64_t id,
                         int64_t started_ms, int64_t now_mono, zb_fleet_host_t **host_p,
                         zb_fleet_service_t **service_p);

//  Last-heard times live in memory; the owner writes them in batches. This
//  returns the host checkpointed longest ago if that was at or before
//  due_mono, and moves it to the back of the queue as checkpointed at
//  now_mono; NULL when none is due. O(1) per host returned: no walk over
//  every host (hosts new since the last call are stamped now_mono first,
//  their rows having been written when they were created).
zb_fleet_host_t *zb_fleet_heard_next(zb_fleet_t *self, int64_t due_mono, int64_t now_mono);

//  A host forgotten (`zbeat hosts forget`): dropped from memory, nothing
//  written (the store forgets it). A message from it later makes it new.
//  False when it was not known.
bool zb_fleet_forget(zb_fleet_t *self, const char *name);

//  Lookup and walks (no changes to the fleet while walking one host's
//  services; hosts and services may be walked nested).
zb_fleet_host_t *zb_fleet_host(zb_fleet_t *self, const char *name);
size_t zb_fleet_size(zb_fleet_t *self);
zb_fleet_host_t *zb_fleet_first(zb_fleet_t *self);
zb_fleet_host_t *zb_fleet_next(zb_fleet_t *self);
zb_fleet_service_t *zb_fleet_service_first(zb_fleet_host_t *host);
zb_fleet_service_t *zb_fleet_service_next(zb_fleet_host_t *host);

void zb_fleet_counts(zb_fleet_t *self, zb_fleet_counts_t *counts);

void zb_fleet_test(bool verbose);

#endif
