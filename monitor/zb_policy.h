/*  zb_policy: the monitor's alerting policy (docs/alerts.md).

    An outage that opens makes one alert (down or silent), held when a
    silence matches; one that closes makes a recovered alert when its
    opening alert went out. A service changing state more than
    flap-threshold times in flap-window is flapping: one alert, then nothing
    until it kept one state for flap-quiet ("stable"). Held alerts go out
    when their silence ends; open outages are reminded every monitor/repeat.

    It acts on zb_fleet's moments (the owner forwards its sink's flip,
    opened and closed here) and on a tick (zb_policy_tick, once a second).
    Its marks live on the fleet's hosts and services (zb_fleet_marks_t).
    Alert rows and deliveries are written through zb_store in the owner's
    transaction; what goes to the PUB stream is handed to io->publish, to be
    sent once that transaction commits.
*/
#ifndef ZB_POLICY_H
#define ZB_POLICY_H

#include "zb_fleet.h"
#include "zb_monitor_config.h"
#include "zb_store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    //  The result of every store write (the owner counts and logs failures).
    void (*wrote)(void *arg, int rc);
    //  A message for the PUB stream, sent when the pass commits.
    void (*publish)(void *arg, const char *topic, const char *payload);
    //  Whether a PUB stream exists (released alerts are read back only then).
    bool (*publishing)(void *arg);
} zb_policy_io_t;

typedef struct _zb_policy_t zb_policy_t;

//  config and store are the owner's and must outlive the policy; config
//  may change in place (a reload) between calls.
zb_policy_t *zb_policy_new(const zb_monitor_config_t *config, zb_store_t *store,
                           const zb_policy_io_t *io, void *arg);
void zb_policy_destroy(zb_policy_t **self_p);

//  The clocks of the message or tick being handled.
void zb_policy_clock(zb_policy_t *self, int64_t now_mono, int64_t now_wall);

//  zb_fleet's moments (zb_fleet_sink_t's flip, opened, closed).
void zb_policy_flip(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                    zb_state_t to, const char *reason, const char *error);
void zb_policy_opened(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service);
void zb_policy_closed(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                      int64_t id, int64_t started_ms, int64_t ended_ms, const char *end_reason);

//  zb_fleet's name conflict proven (its sink's conflict, begun): one
//  name-conflict alert for the episode, none when a silence matches the host.
void zb_policy_conflict(zb_policy_t *self, zb_fleet_host_t *host);
//  An open outage loaded at start (service NULL: the host's), with what its
//  row says of its opening alert. Periods missed meanwhile are not made up.
void zb_policy_loaded(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                      bool notified, bool silenced, int64_t started_ms);

//  Once a second: silences re-read, held alerts released when their
//  silence is over, flapping services that calmed down, reminders.
void zb_policy_tick(zb_policy_t *self, zb_fleet_t *fleet);

//  After a reload: flapping rings start afresh when the threshold changed,
//  and the next tick looks at every service.
void zb_policy_reloaded(zb_policy_t *self, zb_fleet_t *fleet, bool flap_threshold_changed);

//  True once after a pass made deliveries (the delivery threads to wake).
bool zb_policy_poked(zb_policy_t *self);

#endif
