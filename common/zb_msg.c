/*  zb_msg: messages of the wire protocol (v1, and v2's thin beats). See
    zb_msg.h. */
#include "zb_msg.h"

#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *s_state_names[] = {"unknown", "up", "down", "stopped", "removed"};
#define ZB_STATE_COUNT (sizeof(s_state_names) / sizeof(s_state_names[0]))

bool zb_name_valid(const char *name)
{
    size_t len = 0;
    if (!name || !isalnum((unsigned char)name[0]))
        return false;
    for (const char *p = name; *p; p++, len++) {
        //  Plain ASCII classes: the C locale's isalnum is not trusted with
        //  bytes above 127.
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || len >= ZB_NAME_MAX)
            return false;
    }
    return true;
}

const char *zb_state_name(zb_state_t state)
{
    return (unsigned)state < ZB_STATE_COUNT ? s_state_names[state] : "invalid";
}

int zb_state_parse(const char *name, zb_state_t *state)
{
    for (size_t i = 0; name && i < ZB_STATE_COUNT; i++) {
        if (strcmp(name, s_state_names[i]) == 0) {
            *state = (zb_state_t)i;
            return 0;
        }
    }
    return -1;
}

zb_msg_t *zb_msg_new(zb_msg_type_t type)
{
    assert(type == ZB_MSG_BEAT || type == ZB_MSG_EVENT);
    zb_msg_t *self = calloc(1, sizeof(*self));
    if (self)
        self->type = type;
    return self;
}

void zb_msg_destroy(zb_msg_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->services);
        free(*self_p);
        *self_p = NULL;
    }
}

int zb_msg_add_service(zb_msg_t *self, const zb_service_status_t *service)
{
    if (self->service_count >= ZB_PROTO_MAX_SERVICES)
        return -1;
    if (self->service_count == self->service_alloc) {
        size_t alloc = self->service_alloc ? self->service_alloc * 2 : 16;
        zb_service_status_t *services = realloc(self->services, alloc * sizeof(*services));
        if (!services)
            return -1;
        self->services = services;
        self->service_alloc = alloc;
    }
    self->services[self->service_count++] = *service;
    return 0;
}

static uint64_t s_fnv(uint64_t digest, const void *data, size_t len)
{
    const unsigned char *bytes = data;
    for (size_t i = 0; i < len; i++)
        digest = (digest ^ bytes[i]) * 1099511628211ULL;
    return digest;
}

//  A string and its terminating NUL: "ab" + "c" and "a" + "bc" differ.
static uint64_t s_fnv_text(uint64_t digest, const char *text)
{
    return s_fnv(digest, text, strlen(text) + 1);
}

//  Integers as 8 bytes, least significant first, on every machine.
static uint64_t s_fnv_int(uint64_t digest, int64_t value)
{
    unsigned char bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)((uint64_t)value >> (8 * i));
    return s_fnv(digest, bytes, sizeof(bytes));
}

static bool s_service_same(const zb_service_status_t *a, const zb_service_status_t *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->kind, b->kind) == 0 && a->state == b->state &&
           a->since_ms == b->since_ms && a->rtt_us == b->rtt_us &&
           strcmp(a->reason, b->reason) == 0 && strcmp(a->error, b->error) == 0 &&
           strcmp(a->addr, b->addr) == 0 && strcmp(a->container, b->container) == 0 &&
           a->tls_expires == b->tls_expires;
}

bool zb_msg_same(const zb_msg_t *a, const zb_msg_t *b)
{
    if (a->type != b->type || strcmp(a->host, b->host) != 0 ||
        strcmp(a->instance, b->instance) != 0 || a->seq != b->seq || a->time_ms != b->time_ms ||
        a->interval_ms != b->interval_ms || a->dropped != b->dropped || a->thin != b->thin ||
        a->has_digest != b->has_digest || a->digest != b->digest ||
        a->service_count != b->service_count || strcmp(a->service, b->service) != 0 ||
        a->from != b->from || a->to != b->to || a->at_ms != b->at_ms ||
        strcmp(a->reason, b->reason) != 0 || strcmp(a->error, b->error) != 0)
        return false;
    for (size_t i = 0; i < a->service_count; i++)
        if (!s_service_same(&a->services[i], &b->services[i]))
            return false;
    return true;
}

uint64_t zb_msg_digest_add(uint64_t digest, const zb_service_status_t *service)
{
    assert(service);
    digest = s_fnv_text(digest, service->name);
    digest = s_fnv_text(digest, service->kind);
    digest = s_fnv_int(digest, service->state);
    digest = s_fnv_int(digest, service->since_ms);
    digest = s_fnv_text(digest, service->reason);
    digest = s_fnv_text(digest, service->error);
    digest = s_fnv_text(digest, service->addr);
    digest = s_fnv_text(digest, service->container);
    return s_fnv_int(digest, service->tls_expires);
}
