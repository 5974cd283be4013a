/*  zb_target's self-test: what a lookup's answer means for the probe's
    connection, and when a refusal is a verdict, with answers made up (no
    lookup); then a held connection's refused listener looked into through
    a real resolver (localhost, from /etc/hosts). */
#include "zb_target.h"
#include "zb_msg.h"
#include "zb_time.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define S_WAIT_MS 10000 // generous: sanitizers and busy CI

static zb_resolve_result_t s_answer(const char *hostport)
{
    zb_resolve_result_t result;
    memset(&result, 0, sizeof(result));
    result.status = ZB_RESOLVE_OK;
    char host[64], err[128];
    int port;
    bool literal;
    assert(zb_net_parse(hostport, host, sizeof(host), &port, &result.addr, &literal, err,
                        sizeof(err)) == 0 &&
           literal);
    return result;
}

static zb_resolve_result_t s_no_answer(zb_resolve_status_t status)
{
    zb_resolve_result_t result;
    memset(&result, 0, sizeof(result));
    result.status = status;
    snprintf(result.error, sizeof(result.error), "cannot resolve \"svc\": no");
    return result;
}

typedef struct {
    zb_loop_t *loop;
    zb_target_t *target;
    const zb_probe_config_t *config;
    char *addr; // the probe's address text
    size_t size;
    int answers;
    zb_target_next_t next; // of the latest answer, taken as a connected probe's
} s_test_t;

static void s_on_answer(void *arg, const zb_resolve_result_t *result)
{
    s_test_t *test = arg;
    test->answers++;
    test->next = zb_target_resolved(test->target, test->config, result, zb_time_mono_ms(), false,
                                    true, test->addr, test->size);
    zb_loop_stop(test->loop);
}

static void s_never(void *arg, const zb_resolve_result_t *result)
{
    (void)arg;
    (void)result;
    assert(!"a lookup dropped for a fresh one called back");
}

static void s_on_watchdog(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    (void)arg;
    zb_loop_stop(loop);
}

//  Runs the loop until the answer to the lookup under way.
static void s_wait_answer(s_test_t *test)
{
    int answers = test->answers;
    zb_timer_t watchdog;
    zb_timer_init(&watchdog, s_on_watchdog, NULL);
    zb_loop_timer_set(test->loop, &watchdog, zb_time_mono_ms() + S_WAIT_MS);
    zb_loop_run(test->loop);
    zb_loop_timer_cancel(test->loop, &watchdog);
    assert(test->answers == answers + 1);
}

void zb_target_test(bool verbose)
{
    (void)verbose;
    char err[128];
    zb_loop_t *loop = zb_loop_new();
    assert(loop);
    zb_resolver_t *resolver = zb_resolver_new(loop, err, sizeof(err));
    assert(resolver);
    zb_probe_config_t config;
    memset(&config, 0, sizeof(config));
    config.name = "svc";
    config.host = "svc";
    config.target = "svc:6379";
    config.port = 6379;
    config.interval_ms = 1000;
    config.timeout_ms = 500;
    config.fails = 1;
    char addr[ZB_ADDR_MAX + 1] = "";
    zb_target_t t;
    zb_target_init(&t, resolver, &config, addr, sizeof(addr));
    int64_t now = 1000000;
    zb_resolve_result_t here = s_answer("127.0.0.2:6379");
    zb_resolve_result_t there = s_answer("127.0.0.3:6379");

    //  A name is looked up before its first connect; a connect refused at
    //  the address looked up for it is a verdict.
    assert(!zb_target_ready(&t, &config, now));
    assert(zb_target_resolved(&t, &config, &here, now, true, false, addr, sizeof(addr)) ==
           ZB_TARGET_CONNECT);
    assert(strcmp(addr, "127.0.0.2:6379") == 0 && !t.stale);
    zb_target_connecting(&t);
    assert(t.fresh && zb_target_connect_failed(&t, &config));

    //  A connect to the answer kept (5 s at least, without a TTL) is to an
    //  address from before: refused there, the name is looked up again
    //  (stale) instead of a verdict. The answer then says where to go,
    //  and a refusal there is a verdict.
    //  Asking changes nothing: only a connect that starts does.
    assert(zb_target_ready(&t, &config, now + 4999) && zb_target_ready(&t, &config, now + 4999));
    assert(t.fresh && !t.answered && !t.stale);
    assert(!zb_target_ready(&t, &config, now + 5000));
    zb_target_connecting(&t);
    assert(!t.fresh);
    assert(!zb_target_connect_failed(&t, &config) && t.stale);
    assert(!zb_target_ready(&t, &config, now + 1));
    assert(zb_target_resolved(&t, &config, &there, now + 2, true, false, addr, sizeof(addr)) ==
           ZB_TARGET_CONNECT);
    assert(strcmp(addr, "127.0.0.3:6379") == 0);
    zb_target_connecting(&t);
    assert(zb_target_connect_failed(&t, &config));

    //  Beside a held connection: the same answer carries on, another one
    //  moves the connection. An answer that carried on was not looked up
    //  for the next connect: a refusal there is looked into first.
    assert(zb_target_ready(&t, &config, now + 3));
    zb_target_connecting(&t);
    assert(zb_target_resolved(&t, &config, &there, now + 4, false, true, addr, sizeof(addr)) ==
           ZB_TARGET_CARRY_ON);
    zb_target_connecting(&t);
    assert(!t.fresh);
    assert(zb_target_resolved(&t, &config, &here, now + 5, false, true, addr, sizeof(addr)) ==
           ZB_TARGET_CONNECT);
    assert(strcmp(addr, "127.0.0.2:6379") == 0);

    //  A refused listener (doubted) is down only when the name still has
    //  the address; moved, the connection follows; no answer is dns.
    t.doubted = true;
    assert(zb_target_resolved(&t, &config, &here, now + 6, false, true, addr, sizeof(addr)) ==
           ZB_TARGET_REFUSED);
    assert(!t.doubted);
    t.doubted = true;
    assert(zb_target_resolved(&t, &config, &there, now + 7, false, true, addr, sizeof(addr)) ==
           ZB_TARGET_CONNECT);
    assert(!t.doubted && strcmp(addr, "127.0.0.3:6379") == 0);
    zb_resolve_result_t failed = s_no_answer(ZB_RESOLVE_FAILED);
    zb_resolve_result_t notfound = s_no_answer(ZB_RESOLVE_NOTFOUND);
    t.doubted = true;
    assert(zb_target_resolved(&t, &config, &failed, now + 8, false, true, addr, sizeof(addr)) ==
           ZB_TARGET_DNS);
    assert(!t.doubted && t.stale && strcmp(addr, "127.0.0.3:6379") == 0);
    //  Its connection gone meanwhile, the answer to a refusal is no verdict.
    t.doubted = true;
    assert(zb_target_resolved(&t, &config, &there, now + 9, false, false, addr, sizeof(addr)) ==
           ZB_TARGET_CARRY_ON);

    //  No answer: a connection that works carries on, asked again an
    //  interval later, unless the name is gone; a probe waiting to
    //  connect has no address.
    assert(zb_target_resolved(&t, &config, &failed, now + 10, false, true, addr, sizeof(addr)) ==
           ZB_TARGET_CARRY_ON);
    assert(t.resolve_at == now + 10 + config.interval_ms && t.stale);
    assert(zb_target_resolved(&t, &config, &notfound, now + 11, false, true, addr, sizeof(addr)) ==
           ZB_TARGET_DNS);
    assert(zb_target_resolved(&t, &config, &failed, now + 12, true, false, addr, sizeof(addr)) ==
           ZB_TARGET_DNS);
    assert(zb_target_resolved(&t, &config, &failed, now + 13, false, false, addr, sizeof(addr)) ==
           ZB_TARGET_CARRY_ON);
    zb_target_fini(&t);

    //  An address is always a verdict, and never looked up.
    zb_probe_config_t literal = config;
    literal.target = "127.0.0.2:6379";
    literal.host = "127.0.0.2";
    literal.literal = true;
    literal.addr = here.addr;
    zb_target_init(&t, NULL, &literal, addr, sizeof(addr));
    assert(zb_target_ready(&t, &literal, now) && strcmp(addr, "127.0.0.2:6379") == 0);
    assert(zb_target_connect_failed(&t, &literal));
    assert(zb_target_listener_refused(&t, &literal, s_on_answer, NULL) && !t.doubted);
    zb_target_fini(&t);

    //  Through the resolver: the listener at an address localhost does not
    //  have refused; a lookup under way from before is dropped for a fresh
    //  one, a second refusal waits for the same lookup, and the answer
    //  moves the connection. Refused again at localhost's own address: the
    //  refusal stands.
    config.host = "localhost";
    config.target = "localhost:6379";
    zb_target_init(&t, resolver, &config, addr, sizeof(addr));
    s_test_t test = {loop, &t, &config, addr, sizeof(addr), 0, ZB_TARGET_CARRY_ON};
    zb_resolve_result_t elsewhere = s_answer("192.0.2.1:6379"); // TEST-NET-1: never localhost
    assert(zb_target_resolved(&t, &config, &elsewhere, now, true, false, addr, sizeof(addr)) ==
           ZB_TARGET_CONNECT);
    assert(zb_target_lookup(&t, &config, s_never, NULL) == 0);
    assert(!zb_target_listener_refused(&t, &config, s_on_answer, &test) && t.doubted);
    zb_lookup_t *lookup = t.lookup;
    assert(lookup && !zb_target_listener_refused(&t, &config, s_on_answer, &test));
    assert(t.lookup == lookup);
    s_wait_answer(&test);
    assert(test.next == ZB_TARGET_CONNECT && !t.doubted && !t.lookup);
    assert(strcmp(addr, "127.0.0.1:6379") == 0 || strcmp(addr, "[::1]:6379") == 0);
    assert(!zb_target_listener_refused(&t, &config, s_on_answer, &test) && t.doubted);
    s_wait_answer(&test);
    assert(test.next == ZB_TARGET_REFUSED && !t.doubted);
    zb_target_fini(&t);

    zb_resolver_destroy(&resolver);
    zb_loop_destroy(&loop);
}
