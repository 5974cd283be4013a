/*  zb_replay: the monitor's replay ROUTER. See zb_replay.h. */
#include "zb_replay.h"
#include "zb_log.h"
#include "zb_proto.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _zb_replay_server_t {
    const zb_replay_intake_t *intake; // not owned: where input goes
    void *arg;                        // intake's
    zloop_t *loop;                    // not owned
    zb_auth_t *auth;                  // not owned: secures the router
    zsock_t *router;                  // bound
    bool secured;                     // router given to zb_auth_secure
    bool paused;                      // not read (zb_replay_server_pause)
    zlistx_t *acks;                   // zmsg_t: acks waiting for the commit
    uint64_t applied;                 // new transitions applied
    uint64_t duplicates;              // seen before
    uint64_t bad;                     // undecodable
    uint64_t rejected;                // refused by zb_auth (host not bound to the key, key revoked)
    uint64_t foreign;                 // another shard's host: acked, not applied
};

static void s_ack_free(void **item)
{
    zmsg_destroy((zmsg_t **)item);
}

//  The key the sender's connection was admitted with ("" in plaintext),
//  carried by every frame it sent.
static const char *s_user_id(zframe_t *frame)
{
    const char *user_id = zframe_meta(frame, "User-Id");
    return user_id ? user_id : "";
}

//  A frame as a C string, when it is one: at most max bytes, no NUL.
static bool s_frame_text(zframe_t *frame, char *buf, size_t max)
{
    size_t size = frame ? zframe_size(frame) : 0;
    if (!frame || size == 0 || size > max || memchr(zframe_data(frame), '\0', size))
        return false;
    memcpy(buf, zframe_data(frame), size);
    buf[size] = '\0';
    return true;
}

//  "STATUS", host, instance, pending. Returns false when malformed.
static bool s_status(zb_replay_server_t *self, zframe_t *kind, zmsg_t *msg, int64_t wall)
{
    char host[ZB_NAME_MAX + 1], instance[ZB_INSTANCE_LEN + 1], count[24];
    if (zmsg_size(msg) != 3 || !s_frame_text(zmsg_first(msg), host, ZB_NAME_MAX) ||
        !zb_name_valid(host) || !s_frame_text(zmsg_next(msg), instance, ZB_INSTANCE_LEN) ||
        strlen(instance) != ZB_INSTANCE_LEN ||
        strspn(instance, "0123456789abcdef") != ZB_INSTANCE_LEN ||
        !s_frame_text(zmsg_next(msg), count, 20) || strspn(count, "0123456789") != strlen(count))
        return false;
    errno = 0;
    uint64_t pending = strtoull(count, NULL, 10);
    if (errno)
        return false;
    if (self->intake->owns && !self->intake->owns(self->arg, host)) {
        self->foreign++;
        return true;
    }
    if (zb_auth_check(self->auth, s_user_id(kind), host) != 0) {
        self->rejected++;
        self->intake->rejected(self->arg);
        return true;
    }
    self->intake->status(self->arg, host, instance, pending, wall);
    return true;
}

static void s_handle(zb_replay_server_t *self, zmsg_t *msg, int64_t mono, int64_t wall)
{
    zframe_t *routing = zmsg_pop(msg);
    zframe_t *kind = zmsg_pop(msg);
    zframe_t *topic = NULL;
    zframe_t *json = NULL;
    zb_msg_t *event = NULL;
    char err[256] = "";
    if (routing && kind && zframe_streq(kind, "STATUS")) {
        if (!s_status(self, kind, msg, wall)) {
            self->bad++;
            zb_log_debug("replay: bad STATUS message");
        }
        goto done;
    }
    topic = zmsg_pop(msg);
    json = zmsg_pop(msg);
    if (routing && kind && topic && json && zframe_streq(kind, "EVENT"))
        event = zb_msg_decode(zframe_data(topic), zframe_size(topic), zframe_data(json),
                              zframe_size(json), err, sizeof(err));
    if (!event || event->type != ZB_MSG_EVENT) {
        //  Logged at most once per batch in the caller's counts.
        self->bad++;
        zb_log_debug("replay: bad message: %s", err[0] ? err : "not an event");
        goto done;
    }
    //  Only the host bound to the sender's key (CURVE; zb_auth logs). Not
    //  acknowledged: a forger learns nothing, and a key admitted again later
    //  gets its transitions in when the agent resends them.
    if (zb_auth_check(self->auth, s_user_id(kind), event->host) != 0) {
        self->rejected++;
        self->intake->rejected(self->arg);
        goto done;
    }
    //  Another shard's host: nothing to keep here, so acked (the agent
    //  holds its journal per monitor) and not applied.
    bool foreign = self->intake->owns && !self->intake->owns(self->arg, event->host);
    int rc = foreign ? 0 : self->intake->apply(self->arg, event, mono, wall);
    if (rc < 0)
        goto done; // not acked: the agent sends it again
    if (foreign)
        self->foreign++;
    else if (rc == 0)
        self->duplicates++;
    else
        self->applied++;
    zmsg_t *ack = zmsg_new();
    if (ack) {
        zmsg_append(ack, &routing);
        zmsg_addstr(ack, "ACK");
        zmsg_addstr(ack, event->instance);
        zmsg_addstrf(ack, "%" PRIu64, event->seq);
        if (!zlistx_add_end(self->acks, ack))
            zmsg_destroy(&ack);
    }
done:
    zb_msg_destroy(&event);
    zframe_destroy(&routing);
    zframe_destroy(&kind);
    zframe_destroy(&topic);
    zframe_destroy(&json);
}

static int s_on_readable(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)reader;
    zb_replay_server_t *self = arg;
    //  Unread until the database can be written: the agents keep resending.
    if (self->intake->begin(self->arg) != 0)
        return 0;
    int64_t mono = zb_time_mono_ms();
    int64_t wall = zb_time_wall_ms();
    uint64_t bad = self->bad;
    for (int i = 0; i < ZB_REPLAY_SERVER_BATCH; i++) {
        zmsg_t *msg = zmsg_recv_nowait(self->router);
        if (!msg)
            break;
        s_handle(self, msg, mono, wall);
        zmsg_destroy(&msg);
    }
    if (self->bad > bad)
        zb_log_warning("replay: %" PRIu64 " malformed messages ignored", self->bad - bad);
    //  Acks only for what is committed: after a failed commit the agents
    //  resend, and the unique keys make the second pass exact.
    if (self->intake->commit(self->arg) == 0) {
        zmsg_t *ack;
        while ((ack = zlistx_detach(self->acks, NULL)))
            zmsg_send(&ack, self->router);
    } else
        zlistx_purge(self->acks);
    return 0;
}

zb_replay_server_t *zb_replay_server_new(const zb_replay_intake_t *intake, void *arg, zloop_t *loop,
                                         const char *endpoints, zb_auth_t *auth)
{
    assert(intake && loop && endpoints && auth);
    zb_replay_server_t *self = calloc(1, sizeof(*self));
    if (!self) {
        zb_log_error("replay: out of memory");
        return NULL;
    }
    self->intake = intake;
    self->arg = arg;
    self->loop = loop;
    self->auth = auth;
    self->acks = zlistx_new();
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->acks || !self->router) {
        zb_log_error("replay: cannot create the socket");
        goto failed;
    }
    zlistx_set_destructor(self->acks, s_ack_free);
    zsock_set_maxmsgsize(self->router, ZB_PROTO_MAX_BYTES + 64 * 1024);
    //  An agent that went away must not hold acks at the HWM forever.
    zsock_set_router_mandatory(self->router, 0);
    zsock_set_heartbeat_ivl(self->router, 5000);
    zsock_set_heartbeat_timeout(self->router, 30000);
    //  Before binding: bound without it, the router would admit anyone.
    char err[300];
    if (zb_auth_secure(auth, self->router, endpoints, err, sizeof(err)) != 0) {
        zb_log_error("replay: %s", err);
        goto failed;
    }
    self->secured = true;
    char *list = strdup(endpoints);
    char *save = NULL;
    int rc = list ? 0 : -1;
    for (char *ep = list ? strtok_r(list, ", ", &save) : NULL; ep && rc == 0;
         ep = strtok_r(NULL, ", ", &save)) {
        if (zsock_bind(self->router, "%s", ep) == -1) {
            zb_log_error("cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
            rc = -1;
        } else
            zb_log_info("replay on %s", zsock_endpoint(self->router));
    }
    free(list);
    if (rc != 0 || zloop_reader(loop, self->router, s_on_readable, self) != 0)
        goto failed;
    return self;
failed:
    zb_replay_server_destroy(&self);
    return NULL;
}

void zb_replay_server_pause(zb_replay_server_t *self, bool pause)
{
    assert(self);
    if (self->paused == pause)
        return;
    self->paused = pause;
    if (pause)
        zloop_reader_end(self->loop, self->router);
    else if (zloop_reader(self->loop, self->router, s_on_readable, self) != 0)
        zb_log_error("replay: cannot read the socket again");
}

void zb_replay_server_destroy(zb_replay_server_t **self_p)
{
    assert(self_p);
    zb_replay_server_t *self = *self_p;
    if (!self)
        return;
    if (self->router) {
        zloop_reader_end(self->loop, self->router);
        if (self->applied || self->duplicates || self->rejected || self->foreign)
            zb_log_info("replay: %" PRIu64 " transitions applied, %" PRIu64 " duplicates, %" PRIu64
                        " refused, %" PRIu64 " of other shards' hosts",
                        self->applied, self->duplicates, self->rejected, self->foreign);
    }
    if (self->secured)
        zb_auth_forget(self->auth, self->router);
    zsock_destroy(&self->router);
    zlistx_destroy(&self->acks);
    free(self);
    *self_p = NULL;
}
