/*  zb_record: zb_fleet's state in zb_store. See zb_record.h. */
#include "zb_record.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

void zb_record_result(zb_record_t *self, int rc)
{
    if (rc < 0) {
        (*self->db_errors)++;
        zb_log_error("database: %s", zb_store_error(self->store));
    }
}

static void s_host_put(void *arg, zb_fleet_host_t *host)
{
    zb_record_t *self = arg;
    zb_store_host_t row = {
        .name = host->name,
        .state = zb_fleet_host_word(host),
        .since_ms = host->since_ms,
        .instance = host->instance,
        .interval_ms = host->interval_ms,
        .last_seen_ms = host->last_seen_wall,
    };
    zb_record_result(self, zb_store_host_put(self->store, &row));
}

static void s_service_put(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    zb_record_t *self = arg;
    zb_store_service_t row = {
        .host = host->name,
        .name = service->name,
        .kind = service->kind,
        .state = zb_state_name(service->state),
        .since_ms = service->since_ms,
        .reason = service->reason,
        .error = zb_fleet_service_error(service),
        .tls_expires_ms = service->tls_expires * 1000,
    };
    zb_record_result(self, zb_store_service_put(self->store, &row));
}

static void s_service_delete(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    zb_record_t *self = arg;
    zb_record_result(self, zb_store_service_delete(self->store, host->name, service->name));
}

static void s_services_quiet(void *arg, zb_fleet_host_t *host, int64_t since_ms, const char *reason)
{
    zb_record_t *self = arg;
    zb_record_result(self,
                     zb_store_services_quiet(self->store, host->name,
                                             zb_state_name(ZB_STATE_UNKNOWN), since_ms, reason));
}

static void s_instance_put(void *arg, const char *host, const char *instance, int64_t now_wall,
                           uint64_t seq)
{
    zb_record_t *self = arg;
    zb_record_result(self, zb_store_instance_put(self->store, host, instance, now_wall, seq));
}

static int s_outage_open(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service,
                         int64_t started_ms, const char *reason, const char *error, int64_t *id,
                         int64_t *started)
{
    zb_record_t *self = arg;
    zb_store_outage_t row = {
        .kind = service ? "service" : "host",
        .host = host->name,
        .service = service ? service->name : NULL,
        .started_at_ms = started_ms,
        .reason = reason,
        .error = error,
        .instance = host->instance,
    };
    int rc = zb_store_outage_open(self->store, &row, id, started);
    zb_record_result(self, rc);
    return rc;
}

static int s_outage_close(void *arg, int64_t id, int64_t ended_ms, const char *end_reason)
{
    zb_record_t *self = arg;
    int rc = zb_store_outage_close(self->store, id, ended_ms, end_reason);
    zb_record_result(self, rc);
    return rc;
}

//  A state change on the PUB stream: state.<host>[.<service>].
static void s_state(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service, const char *from,
                    const char *to, int64_t at_ms, const char *reason)
{
    zb_record_t *self = arg;
    zb_stream_state(self->stream, host->name, service ? service->name : NULL, from, to, at_ms,
                    reason);
}

static void s_flip(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service, zb_state_t to,
                   const char *reason, const char *error)
{
    zb_record_t *self = arg;
    zb_policy_flip(self->policy, host, service, to, reason, error);
}

static void s_opened(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    zb_record_t *self = arg;
    if (self->series)
        zb_series_outage(self->series, host->name, service ? service->name : NULL);
    zb_policy_opened(self->policy, host, service);
}

static void s_closed(void *arg, zb_fleet_host_t *host, zb_fleet_service_t *service, int64_t id,
                     int64_t started_ms, int64_t ended_ms, const char *end_reason)
{
    zb_record_t *self = arg;
    zb_policy_closed(self->policy, host, service, id, started_ms, ended_ms, end_reason);
}

static void s_conflict(void *arg, zb_fleet_host_t *host, bool begun)
{
    zb_record_t *self = arg;
    if (begun)
        zb_policy_conflict(self->policy, host);
}

static int s_replay_key(void *arg, const zb_msg_t *msg, int64_t now_wall)
{
    zb_record_t *self = arg;
    int rc = zb_store_replay_key(self->store, msg->host, msg->instance, msg->seq, now_wall);
    zb_record_result(self, rc);
    return rc;
}

static int s_replay_covered(void *arg, const zb_msg_t *msg)
{
    zb_record_t *self = arg;
    int rc = zb_store_replay_covered(self->store, msg->host, msg->service, msg->at_ms);
    zb_record_result(self, rc);
    return rc;
}

//  The service outage a replayed down begins.
static zb_store_outage_t s_replayed_outage(const zb_msg_t *msg)
{
    return (zb_store_outage_t){.kind = "service",
                               .host = msg->host,
                               .service = msg->service,
                               .started_at_ms = msg->at_ms,
                               .reason = msg->reason,
                               .error = msg->error,
                               .instance = msg->instance};
}

static void s_replay_down(void *arg, const zb_msg_t *msg, int64_t bound_ms)
{
    zb_record_t *self = arg;
    zb_store_outage_t outage = s_replayed_outage(msg);
    zb_record_result(self, zb_store_replay_down(self->store, &outage, bound_ms));
}

static int s_replay_split(void *arg, const zb_msg_t *msg, int64_t *cut_id, int64_t *new_id)
{
    zb_record_t *self = arg;
    zb_store_outage_t outage = s_replayed_outage(msg);
    int rc = zb_store_replay_split(self->store, &outage, cut_id, new_id);
    zb_record_result(self, rc);
    return rc;
}

static void s_replay_end(void *arg, const zb_msg_t *msg)
{
    zb_record_t *self = arg;
    zb_record_result(self, zb_store_replay_end(self->store, msg->host, msg->service, msg->at_ms,
                                               zb_state_name(msg->to)));
}

const zb_fleet_sink_t zb_record_sink = {
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

//  zb_policy's way out: store results counted here, alerts queued for PUB.

static int s_load_host(const zb_store_host_t *row, void *arg)
{
    zb_record_t *self = arg;
    //  Messages of this agent run up to what is committed are stale: a beat
    //  queued in the agent while we were down must not undo a transition
    //  the previous run recorded (or that replay brought).
    uint64_t last_seq = 0;
    if (zb_name_valid(row->name) && row->instance && row->instance[0] &&
        zb_store_instance_seq(self->store, row->name, row->instance, &last_seq) != 0)
        last_seq = 0;
    bool failed = false;
    zb_fleet_load_host(self->fleet, row->name, row->state, row->since_ms, row->instance,
                       row->interval_ms, row->last_seen_ms, last_seq, zb_time_mono_ms(), &failed);
    return failed ? -1 : 0;
}

static int s_load_service(const zb_store_service_t *row, void *arg)
{
    zb_record_t *self = arg;
    bool failed = false;
    zb_fleet_load_service(self->fleet, row->host, row->name, row->state, row->since_ms, row->kind,
                          row->reason, row->error, row->tls_expires_ms / 1000, &failed);
    return failed ? -1 : 0;
}

static int s_load_outage(const zb_store_outage_t *row, void *arg)
{
    zb_record_t *self = arg;
    zb_fleet_host_t *host = NULL;
    zb_fleet_service_t *service = NULL;
    if (zb_fleet_load_outage(self->fleet, row->host, row->service, row->id, row->started_at_ms,
                             zb_time_mono_ms(), &host, &service) != 0)
        return -1;
    if (host)
        zb_policy_loaded(self->policy, host, service, row->notified, row->silenced,
                         row->started_at_ms);
    return 0;
}
int zb_record_load(zb_record_t *self)
{
    assert(self && self->fleet && self->store && self->policy);
    if (zb_store_hosts(self->store, s_load_host, self) != 0 ||
        zb_store_services(self->store, s_load_service, self) != 0 ||
        zb_store_open_outages(self->store, s_load_outage, self) != 0)
        return -1;
    return 0;
}

//  zb_policy's way out: store results counted, alerts queued on the stream.
static void s_policy_wrote(void *arg, int rc)
{
    zb_record_result(arg, rc);
}

static void s_policy_publish(void *arg, const char *topic, const char *payload)
{
    zb_record_t *self = arg;
    zb_stream_queue(self->stream, topic, payload);
}

static bool s_policy_publishing(void *arg)
{
    zb_record_t *self = arg;
    return zb_stream_active(self->stream);
}

const zb_policy_io_t zb_record_policy_io = {
    .wrote = s_policy_wrote,
    .publish = s_policy_publish,
    .publishing = s_policy_publishing,
};
