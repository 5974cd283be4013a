/*  zb_resolver: c-ares driven by the agent's loop. See zb_resolver.h. */
#include "zb_resolver.h"
#include "zb_time.h"

#include <ares.h>
#include <assert.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  c-ares's defaults (5 s, 4 tries, doubled per round) could keep a probe
//  waiting half a minute for a DNS server that does not answer; a probe
//  would rather say `dns` soon and try again.
#define S_TIMEOUT_MS 1000
#define S_TRIES 2
#define S_FDS_MAX 16 // c-ares's sockets: one or two per name server

struct _zb_lookup_t {
    zb_resolver_t *resolver;
    zb_resolver_fn *fn; // NULL once cancelled: freed when c-ares is done with it
    void *arg;
    int port;
    zb_lookup_t *next;          // in the deferred list
    zb_resolve_result_t result; // kept while deferred
    char host[];
};

struct _zb_resolver_t {
    zb_loop_t *loop;
    ares_channel channel;
    zb_timer_t timer;   // c-ares's next timeout
    zb_timer_t deliver; // results that came inside zb_resolver_lookup
    zb_lookup_t *first; // deferred results, in order
    zb_lookup_t **last; // where the next one goes
    bool submitting;    // inside ares_getaddrinfo: answers wait for the loop
    int fds[S_FDS_MAX]; // the sockets c-ares asked us to watch
    size_t fd_count;
};

static void s_rearm(zb_resolver_t *self)
{
    struct timeval tv;
    if (!ares_timeout(self->channel, NULL, &tv)) {
        zb_loop_timer_cancel(self->loop, &self->timer);
        return;
    }
    int64_t ms = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
    zb_loop_timer_set(self->loop, &self->timer, zb_time_mono_ms() + ms);
}

static void s_on_fd(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    zb_resolver_t *self = arg;
    ares_process_fd(self->channel, events & ZB_LOOP_READ ? fd : ARES_SOCKET_BAD,
                    events & ZB_LOOP_WRITE ? fd : ARES_SOCKET_BAD);
    s_rearm(self);
}

static void s_on_timeout(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)loop;
    (void)timer;
    zb_resolver_t *self = arg;
    ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    s_rearm(self);
}

//  c-ares opens, changes and closes (0, 0) the sockets it wants watched.
static void s_on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    zb_resolver_t *self = data;
    int events = (readable ? ZB_LOOP_READ : 0) | (writable ? ZB_LOOP_WRITE : 0);
    size_t i = 0;
    while (i < self->fd_count && self->fds[i] != fd)
        i++;
    bool known = i < self->fd_count;
    if (!events) {
        if (known) {
            zb_loop_del_fd(self->loop, fd);
            self->fds[i] = self->fds[--self->fd_count];
        }
        return;
    }
    if (known) {
        zb_loop_mod_fd(self->loop, fd, events);
        return;
    }
    //  Unwatched, the query times out and reports a failure: no worse than
    //  a lost packet.
    if (self->fd_count < S_FDS_MAX && zb_loop_add_fd(self->loop, fd, events, s_on_fd, self) == 0)
        self->fds[self->fd_count++] = fd;
}

static void s_deliver(zb_lookup_t *lookup)
{
    if (lookup->fn)
        lookup->fn(lookup->arg, &lookup->result);
    free(lookup);
}

static void s_on_deliver(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)loop;
    (void)timer;
    zb_resolver_t *self = arg;
    //  Taken as a whole first: a callback may start lookups of its own.
    zb_lookup_t *lookup = self->first;
    self->first = NULL;
    self->last = &self->first;
    while (lookup) {
        zb_lookup_t *next = lookup->next;
        s_deliver(lookup);
        lookup = next;
    }
}

static void s_on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *answer)
{
    (void)timeouts;
    zb_lookup_t *lookup = arg;
    zb_resolver_t *self = lookup->resolver;
    zb_resolve_result_t *result = &lookup->result;
    if (status == ARES_EDESTRUCTION || !lookup->fn) {
        if (answer)
            ares_freeaddrinfo(answer);
        free(lookup);
        return;
    }
    result->status = ZB_RESOLVE_FAILED;
    struct ares_addrinfo_node *node = answer ? answer->nodes : NULL;
    while (node && (node->ai_family != AF_INET && node->ai_family != AF_INET6))
        node = node->ai_next;
    if (status == ARES_SUCCESS && node &&
        zb_net_addr_set(&result->addr, node->ai_addr, node->ai_addrlen, lookup->port) == 0) {
        result->status = ZB_RESOLVE_OK;
        result->ttl_ms = node->ai_ttl > 0 ? (int64_t)node->ai_ttl * 1000 : 0;
    } else if (status == ARES_SUCCESS) {
        result->status = ZB_RESOLVE_NOTFOUND;
        snprintf(result->error, sizeof(result->error),
                 "cannot resolve \"%s\": no IPv4 or IPv6 address", lookup->host);
    } else {
        if (status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_ENONAME ||
            status == ARES_EBADNAME)
            result->status = ZB_RESOLVE_NOTFOUND;
        snprintf(result->error, sizeof(result->error), "cannot resolve \"%s\": %s", lookup->host,
                 ares_strerror(status));
    }
    if (answer)
        ares_freeaddrinfo(answer);
    if (self->submitting) {
        lookup->next = NULL;
        *self->last = lookup;
        self->last = &lookup->next;
        zb_loop_timer_set(self->loop, &self->deliver, 0);
    } else
        s_deliver(lookup);
}

zb_resolver_t *zb_resolver_new(zb_loop_t *loop, char *err, size_t errsize)
{
    assert(loop);
    zb_resolver_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errsize, "c-ares: %s", ares_strerror(rc));
        free(self);
        return NULL;
    }
    self->loop = loop;
    self->last = &self->first;
    zb_timer_init(&self->timer, s_on_timeout, self);
    zb_timer_init(&self->deliver, s_on_deliver, self);
    struct ares_options options;
    memset(&options, 0, sizeof(options));
    options.sock_state_cb = s_on_sock_state;
    options.sock_state_cb_data = self;
    options.timeout = S_TIMEOUT_MS;
    options.tries = S_TRIES;
    rc = ares_init_options(&self->channel, &options,
                           ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errsize, "c-ares: %s", ares_strerror(rc));
        ares_library_cleanup();
        free(self);
        return NULL;
    }
    return self;
}

void zb_resolver_destroy(zb_resolver_t **self_p)
{
    assert(self_p);
    zb_resolver_t *self = *self_p;
    if (!self)
        return;
    //  Answers to the lookups under way come back as EDESTRUCTION and are
    //  freed unseen; then the deferred ones.
    ares_destroy(self->channel);
    while (self->first) {
        zb_lookup_t *next = self->first->next;
        free(self->first);
        self->first = next;
    }
    for (size_t i = 0; i < self->fd_count; i++)
        zb_loop_del_fd(self->loop, self->fds[i]);
    zb_loop_timer_cancel(self->loop, &self->timer);
    zb_loop_timer_cancel(self->loop, &self->deliver);
    ares_library_cleanup();
    free(self);
    *self_p = NULL;
}

zb_lookup_t *zb_resolver_lookup(zb_resolver_t *self, const char *host, int port, zb_resolver_fn *fn,
                                void *arg)
{
    assert(self && host && fn);
    size_t len = strlen(host);
    zb_lookup_t *lookup = calloc(1, sizeof(*lookup) + len + 1);
    if (!lookup)
        return NULL;
    lookup->resolver = self;
    lookup->fn = fn;
    lookup->arg = arg;
    lookup->port = port;
    memcpy(lookup->host, host, len + 1);
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    self->submitting = true;
    ares_getaddrinfo(self->channel, host, NULL, &hints, s_on_answer, lookup);
    self->submitting = false;
    s_rearm(self);
    return lookup;
}

void zb_lookup_cancel(zb_lookup_t **lookup_p)
{
    assert(lookup_p);
    if (*lookup_p)
        (*lookup_p)->fn = NULL;
    *lookup_p = NULL;
}

//  One lookup, waited for

typedef struct {
    zb_loop_t *loop;
    zb_resolve_result_t *result;
    bool done;
} s_once_t;

static void s_once_answer(void *arg, const zb_resolve_result_t *result)
{
    s_once_t *once = arg;
    *once->result = *result;
    once->done = true;
    zb_loop_stop(once->loop);
}

static void s_once_timeout(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    (void)arg;
    zb_loop_stop(loop);
}

zb_resolve_status_t zb_resolver_resolve_once(const char *host, int port, int64_t timeout_ms,
                                             zb_resolve_result_t *result)
{
    assert(host && result);
    memset(result, 0, sizeof(*result));
    result->status = ZB_RESOLVE_FAILED;
    char err[128];
    zb_loop_t *loop = zb_loop_new();
    zb_resolver_t *resolver = loop ? zb_resolver_new(loop, err, sizeof(err)) : NULL;
    s_once_t once = {loop, result, false};
    zb_lookup_t *lookup =
        resolver ? zb_resolver_lookup(resolver, host, port, s_once_answer, &once) : NULL;
    if (!lookup)
        snprintf(result->error, sizeof(result->error), "cannot resolve \"%s\": %s", host,
                 resolver || !loop ? "out of memory" : err);
    else {
        zb_timer_t timer;
        zb_timer_init(&timer, s_once_timeout, NULL);
        zb_loop_timer_set(loop, &timer, zb_time_mono_ms() + timeout_ms);
        zb_loop_run(loop);
        zb_loop_timer_cancel(loop, &timer);
        if (!once.done) {
            zb_lookup_cancel(&lookup);
            char limit[32];
            zb_time_format_duration(timeout_ms, limit, sizeof(limit));
            snprintf(result->error, sizeof(result->error),
                     "cannot resolve \"%s\": no answer within %s", host, limit);
        }
    }
    zb_resolver_destroy(&resolver);
    zb_loop_destroy(&loop);
    return result->status;
}

//  Self-test: names from /etc/hosts (localhost is in every one we run on),
//  a literal through c-ares, and a name that cannot exist (.invalid, RFC
//  6761) which must fail, whether DNS answers NXDOMAIN or not at all.

typedef struct {
    zb_loop_t *loop;
    int answers;
    zb_resolve_result_t last;
} s_test_t;

static void s_test_answer(void *arg, const zb_resolve_result_t *result)
{
    s_test_t *test = arg;
    test->answers++;
    test->last = *result;
    zb_loop_stop(test->loop);
}

static void s_test_never(void *arg, const zb_resolve_result_t *result)
{
    (void)arg;
    (void)result;
    assert(!"a cancelled lookup called back");
}

void zb_resolver_test(bool verbose)
{
    (void)verbose;
    char err[128], text[64];
    zb_loop_t *loop = zb_loop_new();
    assert(loop);
    zb_resolver_t *resolver = zb_resolver_new(loop, err, sizeof(err));
    assert(resolver);
    s_test_t test = {loop, 0, {0}};

    //  /etc/hosts answers inside ares_getaddrinfo; the callback waits.
    zb_lookup_t *lookup = zb_resolver_lookup(resolver, "localhost", 6379, s_test_answer, &test);
    assert(lookup && test.answers == 0);
    zb_lookup_t *cancelled = zb_resolver_lookup(resolver, "localhost", 1, s_test_never, NULL);
    zb_lookup_cancel(&cancelled);
    assert(cancelled == NULL);
    assert(zb_loop_run(loop) == 0);
    assert(test.answers == 1 && test.last.status == ZB_RESOLVE_OK);
    zb_net_addr_format(&test.last.addr, text, sizeof(text));
    assert(strcmp(text, "127.0.0.1:6379") == 0 || strcmp(text, "[::1]:6379") == 0);

    //  Cancelled while c-ares works on it, then the resolver goes with
    //  lookups still under way: no callback, nothing leaked.
    cancelled = zb_resolver_lookup(resolver, "no-such-host.invalid", 1, s_test_never, NULL);
    zb_lookup_cancel(&cancelled);
    lookup = zb_resolver_lookup(resolver, "no-such-host.invalid", 80, s_test_answer, &test);
    assert(lookup);
    assert(zb_loop_run(loop) == 0);
    assert(test.answers == 2 && test.last.status != ZB_RESOLVE_OK);
    assert(strstr(test.last.error, "cannot resolve \"no-such-host.invalid\": "));
    lookup = zb_resolver_lookup(resolver, "no-such-host.invalid", 80, s_test_never, NULL);
    zb_resolver_destroy(&resolver);
    assert(resolver == NULL);
    zb_loop_destroy(&loop);

    zb_resolve_result_t result;
    assert(zb_resolver_resolve_once("localhost", 22, 2000, &result) == ZB_RESOLVE_OK);
    assert(zb_resolver_resolve_once("no-such-host.invalid", 22, 3000, &result) != ZB_RESOLVE_OK);
    assert(strstr(result.error, "no-such-host.invalid"));
}
