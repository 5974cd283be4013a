/*  zb_fleet's self-test sink: the store's part, played in memory. See
    zb_fleet_test.h.
*/
#include "zb_fleet_test.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void s_note(zb_fleet_test_sink_t *sink, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void s_note(zb_fleet_test_sink_t *sink, const char *format, ...)
{
    size_t len = strlen(sink->log);
    va_list args;
    va_start(args, format);
    vsnprintf(sink->log + len, sizeof(sink->log) - len, format, args);
    va_end(args);
    len = strlen(sink->log);
    snprintf(sink->log + len, sizeof(sink->log) - len, ";");
}

static const char *s_svc(zb_fleet_service_t *service)
{
    return service ? service->name : "-";
}

static void s_host_put(void *arg, zb_fleet_host_t *host)
{
    s_note(arg, "host %s=%s", host->name, zb_fleet_host_word(host));
}

static void s_service_put(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    s_note(arg, "svc %s/%s=%s@%lld", host->name, service->name, zb_state_name(service->state),
           (long long)(service->since_ms - ZB_FLEET_TEST_T0));
}

static void s_service_delete(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    s_note(arg, "del %s/%s", host->name, service->name);
}

//  One write for the host's services, noted as the service rows it stands
//  for: those just made unknown since since_ms for reason.
static void s_services_quiet(void *arg, zb_fleet_host_t *host, int64_t since_ms, const char *reason)
{
    for (zb_fleet_service_t *service = zb_fleet_service_first(host); service;
         service = zb_fleet_service_next(host))
        if (service->state == ZB_STATE_UNKNOWN && service->since_ms == since_ms &&
            strcmp(service->reason, reason) == 0 && !service->error)
            s_service_put(arg, host, service);
}

static void s_instance_put(void *arg, const char *host, const char *instance, int64_t now_wall,
                           uint64_t seq)
{
    (void)now_wall;
    s_note(arg, "inst %s/%s:%llu", host, instance + 14, (unsigned long long)seq);
}

//  As zb_store_outage_open: one open outage per (host, service).
static int s_outage_open(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service,
                         int64_t started_ms, const char *reason, const char *error, int64_t *id,
                         int64_t *started)
{
    (void)error;
    zb_fleet_test_sink_t *sink = arg;
    const char *name = service ? service->name : "";
    for (int i = 0; i < sink->outage_count; i++) {
        zb_fleet_test_outage_t *o = &sink->outages[i];
        if (o->ended < 0 && strcmp(o->host, host->name) == 0 && strcmp(o->service, name) == 0) {
            *id = i + 1;
            *started = o->started;
            s_note(sink, "open %s/%s: #%d was open", host->name, s_svc(service), i + 1);
            return 0;
        }
    }
    assert(sink->outage_count < ZB_FLEET_TEST_OUTAGES);
    zb_fleet_test_outage_t *o = &sink->outages[sink->outage_count++];
    snprintf(o->host, sizeof(o->host), "%s", host->name);
    snprintf(o->service, sizeof(o->service), "%s", name);
    o->started = started_ms;
    o->ended = -1;
    *id = sink->outage_count;
    *started = started_ms;
    s_note(sink, "open #%d %s/%s@%lld:%s", sink->outage_count, host->name, s_svc(service),
           (long long)(started_ms - ZB_FLEET_TEST_T0), reason);
    return 1;
}

static int s_outage_close(void *arg, int64_t id, int64_t ended_ms, const char *end_reason)
{
    zb_fleet_test_sink_t *sink = arg;
    assert(id >= 1 && id <= sink->outage_count);
    zb_fleet_test_outage_t *o = &sink->outages[id - 1];
    if (o->ended >= 0)
        return 0;
    o->ended = ended_ms;
    s_note(sink, "close #%lld@%lld:%s", (long long)id, (long long)(ended_ms - ZB_FLEET_TEST_T0),
           end_reason);
    return 1;
}

static void s_state(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service, const char *from,
                    const char *to, int64_t at_ms, const char *reason)
{
    (void)at_ms;
    (void)reason;
    s_note(arg, "state %s/%s %s>%s", host->name, s_svc(service), from, to);
}

static void s_flip(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service, zb_state_t to,
                   const char *reason, const char *error)
{
    (void)reason;
    (void)error;
    s_note(arg, "flip %s/%s>%s", host->name, service->name, zb_state_name(to));
}

static void s_opened(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    s_note(arg, "opened %s/%s", host->name, s_svc(service));
}

static void s_closed(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service, int64_t id,
                     int64_t started_ms, int64_t ended_ms, const char *end_reason)
{
    (void)started_ms;
    (void)ended_ms;
    (void)end_reason;
    s_note(arg, "closed %s/%s #%lld", host->name, s_svc(service), (long long)id);
}

//  As zb_store_replay_key: 1 the first time a key is seen.
static int s_replay_key(void *arg, const zb_msg_t *msg, int64_t now_wall)
{
    (void)now_wall;
    zb_fleet_test_sink_t *sink = arg;
    char key[sizeof(sink->keys[0])];
    snprintf(key, sizeof(key), "%s/%s/%llu", msg->host, msg->instance,
             (unsigned long long)msg->seq);
    for (int i = 0; i < sink->key_count; i++)
        if (strcmp(sink->keys[i], key) == 0)
            return 0;
    assert(sink->key_count < ZB_FLEET_TEST_KEYS);
    snprintf(sink->keys[sink->key_count++], sizeof(key), "%s", key);
    return 1;
}

//  As zb_store_replay_covered: an outage started at or before at_ms, open
//  or ended after it.
static int s_replay_covered(void *arg, const zb_msg_t *msg)
{
    zb_fleet_test_sink_t *sink = arg;
    for (int i = 0; i < sink->outage_count; i++) {
        zb_fleet_test_outage_t *o = &sink->outages[i];
        if (strcmp(o->host, msg->host) == 0 && strcmp(o->service, msg->service) == 0 &&
            o->started <= msg->at_ms && (o->ended < 0 || o->ended > msg->at_ms)) {
            s_note(sink, "covered %s/%s@%lld", msg->host, msg->service,
                   (long long)(msg->at_ms - ZB_FLEET_TEST_T0));
            return 1;
        }
    }
    return 0;
}

static void s_replay_down(void *arg, const zb_msg_t *msg, int64_t bound_ms)
{
    s_note(arg, "history down %s/%s@%lld until %lld", msg->host, msg->service,
           (long long)(msg->at_ms - ZB_FLEET_TEST_T0), (long long)(bound_ms - ZB_FLEET_TEST_T0));
}

static void s_replay_end(void *arg, const zb_msg_t *msg)
{
    s_note(arg, "history %s %s/%s@%lld", zb_state_name(msg->to), msg->host, msg->service,
           (long long)(msg->at_ms - ZB_FLEET_TEST_T0));
}

//  As zb_store_replay_split: the outage spanning at_ms that began before
//  it ends there, and a new one goes on from there as it did.
static int s_replay_split(void *arg, const zb_msg_t *msg, int64_t *cut_id, int64_t *new_id)
{
    zb_fleet_test_sink_t *sink = arg;
    for (int i = 0; i < sink->outage_count; i++) {
        zb_fleet_test_outage_t *o = &sink->outages[i];
        if (strcmp(o->host, msg->host) != 0 || strcmp(o->service, msg->service) != 0 ||
            o->started >= msg->at_ms || (o->ended >= 0 && o->ended <= msg->at_ms))
            continue;
        assert(sink->outage_count < ZB_FLEET_TEST_OUTAGES);
        zb_fleet_test_outage_t *part = &sink->outages[sink->outage_count++];
        *part = *o;
        part->started = msg->at_ms;
        o->ended = msg->at_ms;
        *cut_id = i + 1;
        *new_id = sink->outage_count;
        s_note(sink, "split #%d@%lld -> #%d", i + 1, (long long)(msg->at_ms - ZB_FLEET_TEST_T0),
               sink->outage_count);
        return 1;
    }
    return 0;
}

static void s_conflict(void *arg, zb_fleet_host_t *host, bool begun)
{
    s_note(arg, "conflict %s%s", host->name, begun ? "+" : "-");
}

const zb_fleet_sink_t zb_fleet_test_sink = {
    .host_put = s_host_put,
    .service_put = s_service_put,
    .service_delete = s_service_delete,
    .services_quiet = s_services_quiet,
    .instance_put = s_instance_put,
    .outage_open = s_outage_open,
    .outage_close = s_outage_close,
    .state = s_state,
    .flip = s_flip,
    .opened = s_opened,
    .closed = s_closed,
    .replay_key = s_replay_key,
    .replay_covered = s_replay_covered,
    .replay_down = s_replay_down,
    .replay_end = s_replay_end,
    .replay_split = s_replay_split,
    .conflict = s_conflict,
};
