/*  zb_target: where a probe connects. See zb_target.h. */
#include "zb_target.h"
#include "zb_log.h"
#include "zb_msg.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

//  How long an answer is kept without `resolve`: its TTL, within these
//  bounds. /etc/hosts answers have no TTL: a name moved there is seen
//  within the minimum, or at once when the connection breaks.
#define ZB_TARGET_RESOLVE_MIN_MS 5000
#define ZB_TARGET_RESOLVE_MAX_MS (3600 * 1000)

void zb_target_init(zb_target_t *self, zb_resolver_t *resolver, const zb_probe_config_t *config,
                    char *addr, size_t size)
{
    assert(self && config && addr);
    assert(resolver || config->literal);
    memset(self, 0, sizeof(*self));
    self->resolver = resolver;
    if (config->literal) {
        self->addr = config->addr;
        self->known = true;
        zb_net_addr_format(&self->addr, addr, size);
    }
}

void zb_target_fini(zb_target_t *self)
{
    assert(self);
    zb_lookup_cancel(&self->lookup);
}

bool zb_target_ready(const zb_target_t *self, const zb_probe_config_t *config, int64_t now)
{
    assert(self && config);
    return config->literal ||
           !(self->lookup || !self->known || self->stale || now >= self->resolve_at);
}

void zb_target_connecting(zb_target_t *self)
{
    assert(self && self->known);
    self->fresh = self->answered;
    self->answered = false;
}

int zb_target_lookup(zb_target_t *self, const zb_probe_config_t *config, zb_resolver_fn *fn,
                     void *arg)
{
    assert(self && config && fn);
    assert(!self->lookup && !config->literal);
    self->lookup = zb_resolver_lookup(self->resolver, config->host, config->port, fn, arg);
    return self->lookup ? 0 : -1;
}

zb_target_next_t zb_target_resolved(zb_target_t *self, const zb_probe_config_t *config,
                                    const zb_resolve_result_t *result, int64_t now, bool waiting,
                                    bool connected, char *addr, size_t size)
{
    assert(self && config && result && addr);
    assert(!(waiting && connected));
    self->lookup = NULL;
    bool doubted = self->doubted && connected; // a refusal about this connection
    self->doubted = false;
    self->answered = false;
    if (result->status != ZB_RESOLVE_OK) {
        self->stale = true;
        //  No address to connect to, the name gone, or no answer to tell
        //  where the service went from the address that refused.
        if (waiting || (connected && (doubted || result->status == ZB_RESOLVE_NOTFOUND)))
            return ZB_TARGET_DNS;
        //  A connection that works carries on; asked again an interval later.
        zb_log_debug("%s: %s", config->name, result->error);
        self->resolve_at = now + config->interval_ms;
        return ZB_TARGET_CARRY_ON;
    }
    bool moved = self->known && !zb_net_addr_equal(&self->addr, &result->addr);
    char was[ZB_ADDR_MAX + 1];
    snprintf(was, sizeof(was), "%s", addr);
    self->addr = result->addr;
    self->known = true;
    self->stale = false;
    zb_net_addr_format(&self->addr, addr, size);
    int64_t keep = config->resolve_ms;
    if (!keep) {
        keep = result->ttl_ms;
        keep = keep < ZB_TARGET_RESOLVE_MIN_MS   ? ZB_TARGET_RESOLVE_MIN_MS
               : keep > ZB_TARGET_RESOLVE_MAX_MS ? ZB_TARGET_RESOLVE_MAX_MS
                                                 : keep;
    }
    self->resolve_at = now + keep;
    if (moved)
        zb_log_info("%s: %s moved from %s to %s", config->name, config->host, was, addr);
    if (waiting || (connected && moved)) {
        self->answered = true;
        return ZB_TARGET_CONNECT;
    }
    return doubted ? ZB_TARGET_REFUSED : ZB_TARGET_CARRY_ON;
}

bool zb_target_connect_failed(zb_target_t *self, const zb_probe_config_t *config)
{
    assert(self && config);
    if (config->literal || self->fresh)
        return true;
    char text[ZB_ADDR_MAX + 1];
    zb_net_addr_format(&self->addr, text, sizeof(text));
    zb_log_debug("%s: connect to %s failed, an address kept from before; looking %s up again",
                 config->name, text, config->host);
    self->stale = true;
    return false;
}

bool zb_target_listener_refused(zb_target_t *self, const zb_probe_config_t *config,
                                zb_resolver_fn *fn, void *arg)
{
    assert(self && config && fn);
    if (config->literal)
        return true;
    if (self->doubted)
        return false; // the lookup under way decides this refusal too
    zb_lookup_cancel(&self->lookup);
    if (zb_target_lookup(self, config, fn, arg) == -1)
        return true;
    zb_log_debug("%s: a new connection was refused; looking %s up again", config->name,
                 config->host);
    self->doubted = true;
    return false;
}
