/*  zb_verdict: a probe's service state from its checks, and their pace.

    zb_probe runs the connection and says what each check came to; this
    module keeps what follows from that: consecutive failures (down after
    `fails` in a row, or at once for a refusal), the state with its since,
    reason, rtt and error as beats report them, the checks' steady cadence
    (next_check, one interval per check, pings sent on a slot boundary),
    and the capped exponential backoff of reconnects while down. No
    sockets, no timers: a clock value in, the state out, so the self-test
    scripts sequences of verdicts.

    Embedded in each probe (an agent holds thousands); the config is passed
    to each call, so a reload that swaps it needs nothing kept here. Each
    verdict returns true when the state changed: the probe tells the agent.
*/
#ifndef ZB_VERDICT_H
#define ZB_VERDICT_H

#include "zb_msg.h"
#include "zb_probe_config.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    zb_service_status_t status; // what beats report
    int failures;               // consecutive failed checks, at most fails
    int64_t next_check;         // monotonic ms the next check is due
    int64_t backoff_ms;         // the next reconnect's delay while down
} zb_verdict_t;

//  Unknown since now, no rtt, the status named after config's service.
void zb_verdict_init(zb_verdict_t *self, const zb_probe_config_t *config);

//  A good check, its round trip rtt_us: up, the failures forgotten.
bool zb_verdict_good(zb_verdict_t *self, const zb_probe_config_t *config, int64_t rtt_us);

//  One failed check (status.error says what already): down after `fails`
//  in a row, and while down reason follows the latest failure.
bool zb_verdict_failure(zb_verdict_t *self, const zb_probe_config_t *config, const char *reason);

//  A failure that needs no confirmation (nothing listens, no route).
bool zb_verdict_down(zb_verdict_t *self, const zb_probe_config_t *config, const char *reason);

//  Starts from another check's verdict: state, since, reason and error.
void zb_verdict_take(zb_verdict_t *self, const zb_probe_config_t *config,
                     const zb_service_status_t *status);

//  The check due is being made at now: the next one is an interval later
//  (or an interval from now after a stall, rather than a burst of
//  catch-up checks).
void zb_verdict_consume(zb_verdict_t *self, const zb_probe_config_t *config, int64_t now);

//  When the ping due at next_check is sent: the slot boundary (a few ms)
//  at or after it, so the probes due within a slot send in one pass.
int64_t zb_verdict_ping_at(const zb_verdict_t *self, const zb_probe_config_t *config);

//  When to connect again after a closed connection: after the backoff
//  while down (which then doubles, up to an interval), else at the next
//  check.
int64_t zb_verdict_reconnect_at(zb_verdict_t *self, const zb_probe_config_t *config, int64_t now);

//  A reload changed interval, timeout or fails (zb_probe_set_config): the
//  counts fit the new bounds, and a check planned on the old cadence comes
//  no later than a new interval from now.
void zb_verdict_set_config(zb_verdict_t *self, const zb_probe_config_t *config, int64_t now);

void zb_verdict_test(bool verbose);

#endif
