/*  zb_msg: messages of wire protocol v1. See zb_msg.h. */
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
