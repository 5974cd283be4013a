/*  zb_hostset: a set of hosts named by patterns, "web-*,db-*": what a shard
    monitor owns (monitor/hosts) and what a relay's key may speak for (the
    `relay` metadata of its certificate in a monitor's allow-list).

    A pattern is a host name ("web-1") or a prefix of one followed by a
    single trailing "*" ("web-*"; "*" alone is every host). Nothing else:
    the set becomes ZeroMQ subscriptions, and a subscription is a prefix of
    the topic, so "web-*-eu" or "web-?" could not be subscribed to. A name
    subscribes to its prefix too ("beat.web-1" also matches "beat.web-10"),
    so receivers still check zb_hostset_match on every message.

    The set stays a string (the config's value): matching walks it, which
    for the few patterns a shard has costs less than the decoding before it.
*/
#ifndef ZB_HOSTSET_H
#define ZB_HOSTSET_H

#include <stdbool.h>
#include <stddef.h>

#define ZB_HOSTSET_MAX 64 // patterns in one set

//  The topic kinds of the wire protocol, each a prefix ending in '.'
//  (docs/protocol.md): what a host set subscribes to for every pattern.
extern const char *const zb_hostset_kinds[];

//  Checks a comma-separated list of patterns (spaces around items are
//  ignored). Returns 0, or -1 with one line for the user in err.
int zb_hostset_check(const char *list, char *err, size_t errsize);

//  True when host matches a pattern of list; an empty list (or NULL) is
//  every host. list must have passed zb_hostset_check.
bool zb_hostset_match(const char *list, const char *host);

//  Calls fn with every subscription prefix list needs ("beat.web-",
//  "event.web-", ...; "" once for an empty list or "*"). Returns the number
//  of calls.
int zb_hostset_topics(const char *list, void (*fn)(const char *topic, void *arg), void *arg);

void zb_hostset_test(bool verbose);

#endif
