/*  zb_portcheck: the listener's state per address. See zb_portcheck.h. */
#include "zb_portcheck.h"

#include <assert.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

//  Open addressing over entries allocated one by one (a probe never keeps
//  a pointer across calls, but an entry need not move when the table grows).
static zb_portcheck_t **s_slots;
static size_t s_size; // a power of two, or 0
static size_t s_count;

static uint64_t s_hash(const zb_net_addr_t *addr)
{
    //  FNV-1a over the family, port and address bytes (not the padding).
    const unsigned char *bytes;
    size_t len;
    uint16_t port;
    if (addr->addr.sa.sa_family == AF_INET6) {
        bytes = addr->addr.in6.sin6_addr.s6_addr;
        len = 16;
        port = addr->addr.in6.sin6_port;
    } else {
        bytes = (const unsigned char *)&addr->addr.in4.sin_addr.s_addr;
        len = 4;
        port = addr->addr.in4.sin_port;
    }
    uint64_t h = 1469598103934665603ULL;
    h = (h ^ addr->addr.sa.sa_family) * 1099511628211ULL;
    h = (h ^ (port & 0xff)) * 1099511628211ULL;
    h = (h ^ (port >> 8)) * 1099511628211ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ bytes[i]) * 1099511628211ULL;
    return h;
}

static int s_grow(void)
{
    size_t size = s_size ? s_size * 2 : 64;
    zb_portcheck_t **slots = calloc(size, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < s_size; i++) {
        if (!s_slots[i])
            continue;
        size_t at = s_hash(&s_slots[i]->addr) & (size - 1);
        while (slots[at])
            at = (at + 1) & (size - 1);
        slots[at] = s_slots[i];
    }
    free(s_slots);
    s_slots = slots;
    s_size = size;
    return 0;
}

zb_portcheck_t *zb_portcheck_get(const zb_net_addr_t *addr)
{
    assert(addr);
    if ((s_count + 1) * 2 > s_size && s_grow() == -1)
        return NULL;
    size_t at = s_hash(addr) & (s_size - 1);
    for (; s_slots[at]; at = (at + 1) & (s_size - 1))
        if (zb_net_addr_equal(&s_slots[at]->addr, addr))
            return s_slots[at];
    zb_portcheck_t *entry = calloc(1, sizeof(*entry));
    if (!entry)
        return NULL;
    entry->addr = *addr;
    entry->checked_ms = INT64_MIN / 2;
    entry->refused_ms = INT64_MIN / 2;
    entry->accepted_ms = INT64_MIN / 2;
    s_slots[at] = entry;
    s_count++;
    return entry;
}

void zb_portcheck_reset(void)
{
    for (size_t i = 0; i < s_size; i++)
        free(s_slots[i]);
    free(s_slots);
    s_slots = NULL;
    s_size = s_count = 0;
}

void zb_portcheck_test(bool verbose)
{
    (void)verbose;
    zb_net_addr_t a, b, c;
    char err[128];
    assert(zb_net_resolve("127.0.0.1:6379", &a, err, sizeof(err)) == 0);
    assert(zb_net_resolve("127.0.0.1:6380", &b, err, sizeof(err)) == 0);
    assert(zb_net_resolve("[::1]:6379", &c, err, sizeof(err)) == 0);
    zb_portcheck_t *ea = zb_portcheck_get(&a);
    assert(ea && ea->checked_ms < 0 && ea->refused_ms < 0);
    ea->refused_ms = 42;
    //  Another port, another family: other entries; the same one again.
    assert(zb_portcheck_get(&b) != ea && zb_portcheck_get(&c) != ea);
    assert(zb_portcheck_get(&c) != zb_portcheck_get(&b));
    assert(zb_portcheck_get(&a) == ea && ea->refused_ms == 42);
    //  Entries stay where they are while the table grows past its start.
    for (int port = 10000; port < 10500; port++) {
        zb_net_addr_t x;
        char text[32];
        snprintf(text, sizeof(text), "127.0.0.2:%d", port);
        assert(zb_net_resolve(text, &x, err, sizeof(err)) == 0);
        zb_portcheck_t *e = zb_portcheck_get(&x);
        assert(e && zb_portcheck_get(&x) == e);
        e->checked_ms = port;
    }
    assert(zb_portcheck_get(&a) == ea && ea->refused_ms == 42);
    assert(s_count == 503);
    zb_portcheck_reset();
    assert(zb_portcheck_get(&a)->refused_ms < 0);
    zb_portcheck_reset();
}
