/*  zb_stream: the monitor's PUB stream. See zb_stream.h. */
#include "zb_stream.h"
#include "zb_log.h"
#include "zb_proto.h"

#include <assert.h>
#include <czmq.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZB_STREAM_HWM 100000

struct _zb_stream_t {
    zsock_t *pub;     // bound, or NULL
    char *endpoints;  // where it is bound (for a rebind that fails), or NULL
    zlistx_t *queued; // "topic\0payload", sent at the next flush
};

zb_stream_t *zb_stream_new(void)
{
    zb_stream_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->queued = zlistx_new();
    if (!self->queued) {
        free(self);
        return NULL;
    }
    return self;
}

void zb_stream_destroy(zb_stream_t **self_p)
{
    assert(self_p);
    zb_stream_t *self = *self_p;
    if (!self)
        return;
    zb_stream_flush(self, false);
    zlistx_destroy(&self->queued);
    zb_stream_close(self);
    free(self);
    *self_p = NULL;
}

//  A PUB socket bound on every endpoint, or NULL (logged when `quiet` is
//  false). `tries` > 1 retries every 10 ms: a socket just closed frees its
//  port only when the I/O thread gets to it.
static zsock_t *s_open(const char *endpoints, int tries, bool quiet)
{
    char *list = strdup(endpoints);
    zsock_t *pub = NULL;
    for (int attempt = 1; list && attempt <= tries && !pub; attempt++) {
        if (attempt > 1)
            zclock_sleep(10);
        strcpy(list, endpoints);
        pub = zsock_new(ZMQ_PUB);
        if (!pub)
            break;
        zsock_set_sndhwm(pub, ZB_STREAM_HWM);
        char *save = NULL;
        for (char *ep = strtok_r(list, ",", &save); ep && pub; ep = strtok_r(NULL, ",", &save))
            if (zsock_bind(pub, "%s", ep) == -1) {
                if (attempt == tries && !quiet)
                    zb_log_error("cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
                zsock_destroy(&pub);
            }
    }
    if (pub)
        zb_log_info("publishing alerts on %s", endpoints);
    free(list);
    return pub;
}

//  The socket and where it is bound, replacing the old.
static void s_take(zb_stream_t *self, zsock_t *pub, const char *endpoints)
{
    zsock_destroy(&self->pub);
    free(self->endpoints);
    self->pub = pub;
    self->endpoints = pub ? strdup(endpoints) : NULL;
}

int zb_stream_bind(zb_stream_t *self, const char *endpoints)
{
    assert(self && endpoints && !self->pub);
    zsock_t *pub = zsock_new(ZMQ_PUB);
    if (!pub) {
        zb_log_error("cannot create the publish socket");
        return -1;
    }
    zsock_set_sndhwm(pub, ZB_STREAM_HWM);
    char *list = strdup(endpoints);
    int rc = list ? 0 : -1;
    char *save = NULL;
    for (char *ep = list ? strtok_r(list, ",", &save) : NULL; ep && rc == 0;
         ep = strtok_r(NULL, ",", &save)) {
        if (zsock_bind(pub, "%s", ep) == -1) {
            zb_log_error("cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
            rc = -1;
        } else
            zb_log_info("publishing alerts on %s", zsock_endpoint(pub));
    }
    free(list);
    if (rc != 0)
        zsock_destroy(&pub);
    s_take(self, pub, endpoints);
    return rc;
}

int zb_stream_rebind(zb_stream_t *self, const char *endpoints, char *err, size_t errsize)
{
    assert(self && endpoints && err);
    zsock_t *pub = NULL;
    if (*endpoints) {
        pub = s_open(endpoints, 1, self->pub != NULL);
        if (!pub && self->pub) {
            char *old = self->endpoints;
            self->endpoints = NULL;
            zsock_destroy(&self->pub);
            pub = s_open(endpoints, 50, false);
            if (!pub && old)
                s_take(self, s_open(old, 50, false), old);
            free(old);
        }
        if (!pub) {
            snprintf(err, errsize, "monitor/publish: cannot bind %s", endpoints);
            return -1;
        }
    }
    s_take(self, pub, endpoints);
    return 0;
}

void zb_stream_close(zb_stream_t *self)
{
    assert(self);
    s_take(self, NULL, NULL);
}

bool zb_stream_active(zb_stream_t *self)
{
    assert(self);
    return self->pub != NULL;
}

void zb_stream_queue(zb_stream_t *self, const char *topic, const char *payload)
{
    assert(self && topic && payload);
    size_t tlen = strlen(topic), plen = strlen(payload);
    char *item = malloc(tlen + plen + 2);
    if (!item)
        return;
    memcpy(item, topic, tlen + 1);
    memcpy(item + tlen + 1, payload, plen + 1);
    if (!zlistx_add_end(self->queued, item))
        free(item);
}

void zb_stream_state(zb_stream_t *self, const char *host, const char *service, const char *from,
                     const char *to, int64_t at_ms, const char *reason)
{
    assert(self && host && from && to);
    if (!self->pub)
        return;
    char topic[ZB_NAME_MAX * 2 + 16];
    if (service)
        snprintf(topic, sizeof(topic), "state.%s.%s", host, service);
    else
        snprintf(topic, sizeof(topic), "state.%s", host);
    json_t *o = json_pack("{s:i, s:s, s:s, s:s?, s:s, s:s, s:I, s:s}", "v", 1, "type", "state",
                          "host", host, "service", service, "from", from, "to", to, "at_ms",
                          (json_int_t)at_ms, "reason", reason ? reason : "");
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (text)
        zb_stream_queue(self, topic, text);
    free(text);
    json_decref(o);
}

void zb_stream_flush(zb_stream_t *self, bool send)
{
    assert(self);
    void *sock = self->pub ? zsock_resolve(self->pub) : NULL;
    char *item;
    while ((item = zlistx_detach(self->queued, NULL))) {
        if (send && sock) {
            //  PUB never blocks: at its high-water mark it drops.
            size_t tlen = strlen(item);
            zmq_send(sock, item, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(sock, item + tlen + 1, strlen(item + tlen + 1), ZMQ_DONTWAIT);
        }
        free(item);
    }
}
