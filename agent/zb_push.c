/*  zb_push: the verdict on one push or ttl service. See zb_push.h. */
#include "zb_push.h"
#include "zb_time.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _zb_push_t {
    zb_loop_t *loop;                // the agent's loop
    const zb_push_config_t *config; // not owned
    zb_push_notify_fn *notify;      // state changes go here
    void *notify_arg;               // for notify
    zb_timer_t deadline;            // see s_on_deadline
    int64_t armed_ms;               // monotonic ms the deadline runs from
    bool connected;                 // push: said HELLO, no BYE or close since
    bool ever;                      // push: HELLO seen; ttl: CHECKIN seen
    zb_service_status_t status;     // what beats report
};

static void s_on_deadline(zb_loop_t *loop, zb_timer_t *timer, void *arg);

zb_push_t *zb_push_new(zb_loop_t *loop, const zb_push_config_t *config, zb_push_notify_fn *notify,
                       void *arg)
{
    assert(loop && config && notify);
    assert(config->kind == ZB_PUSH_PUSH || config->kind == ZB_PUSH_TTL);
    assert(config->deadline_ms > 0);
    zb_push_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->loop = loop;
    self->config = config;
    self->notify = notify;
    self->notify_arg = arg;
    zb_timer_init(&self->deadline, s_on_deadline, self);
    snprintf(self->status.name, sizeof(self->status.name), "%s", config->name);
    snprintf(self->status.kind, sizeof(self->status.kind), "%s",
             config->kind == ZB_PUSH_PUSH ? "push" : "ttl");
    self->status.state = ZB_STATE_UNKNOWN;
    self->status.since_ms = zb_time_wall_ms();
    self->status.rtt_us = -1; // nothing is timed: the service talks, we listen
    return self;
}

void zb_push_destroy(zb_push_t **self_p)
{
    assert(self_p);
    zb_push_t *self = *self_p;
    if (!self)
        return;
    zb_loop_timer_cancel(self->loop, &self->deadline);
    free(self);
    *self_p = NULL;
}

//  The deadline runs from the moment a line is handled, read off the clock
//  rather than the loop's pass time, so a deadline is never early.
static void s_arm(zb_push_t *self)
{
    self->armed_ms = zb_time_mono_ms();
    zb_loop_timer_set(self->loop, &self->deadline, self->armed_ms + self->config->deadline_ms);
}

void zb_push_start(zb_push_t *self)
{
    assert(self);
    s_arm(self);
}

static void s_set_state(zb_push_t *self, zb_state_t to, const char *reason, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static void s_set_state(zb_push_t *self, zb_state_t to, const char *reason, const char *format, ...)
{
    zb_state_t from = self->status.state;
    if (from == to)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(self->status.error, sizeof(self->status.error), format, args);
    va_end(args);
    snprintf(self->status.reason, sizeof(self->status.reason), "%s", reason);
    self->status.state = to;
    self->status.since_ms = zb_time_wall_ms();
    self->notify(self, from, self->notify_arg);
}

static void s_on_deadline(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)loop;
    (void)timer;
    zb_push_t *self = arg;
    char deadline[32];
    zb_time_format_duration(self->config->deadline_ms, deadline, sizeof(deadline));
    if (self->config->kind == ZB_PUSH_TTL) {
        if (self->ever)
            s_set_state(self, ZB_STATE_DOWN, "ttl-expired", "no check-in for %s", deadline);
        else
            s_set_state(self, ZB_STATE_DOWN, "ttl-expired",
                        "no check-in within %s of the agent's start", deadline);
    } else if (self->connected) {
        self->connected = false; // the agent closes it when notified
        s_set_state(self, ZB_STATE_DOWN, "timeout", "no heartbeat for %s", deadline);
    } else if (!self->ever)
        s_set_state(self, ZB_STATE_DOWN, "never-connected",
                    "no HELLO within %s of the agent's start", deadline);
}

void zb_push_hello(zb_push_t *self)
{
    assert(self);
    if (self->config->kind == ZB_PUSH_TTL)
        return; // only a check-in counts
    //  A replacement connection keeps an up service up, without an event.
    self->connected = true;
    self->ever = true;
    s_arm(self);
    s_set_state(self, ZB_STATE_UP, "ok", "%s", "");
}

void zb_push_ping(zb_push_t *self)
{
    assert(self);
    if (self->config->kind == ZB_PUSH_PUSH && self->connected)
        s_arm(self);
}

void zb_push_checkin(zb_push_t *self)
{
    assert(self);
    if (self->config->kind == ZB_PUSH_PUSH) {
        zb_push_ping(self); // a line like any other
        return;
    }
    self->ever = true;
    s_arm(self);
    s_set_state(self, ZB_STATE_UP, "ok", "%s", "");
}

void zb_push_bye(zb_push_t *self)
{
    assert(self);
    //  A ttl job's BYE is a polite close: its ttl keeps running, or a job
    //  that says BYE after every check-in could never be seen missing.
    if (self->config->kind == ZB_PUSH_TTL || !self->connected)
        return;
    self->connected = false;
    zb_loop_timer_cancel(self->loop, &self->deadline);
    s_set_state(self, ZB_STATE_STOPPED, "bye", "%s", "");
}

void zb_push_closed(zb_push_t *self, const char *error)
{
    assert(self);
    //  Jobs close after their check-in: that is how they end.
    if (self->config->kind == ZB_PUSH_TTL || !self->connected)
        return;
    self->connected = false;
    zb_loop_timer_cancel(self->loop, &self->deadline);
    s_set_state(self, ZB_STATE_DOWN, "closed", "%s", error && *error ? error : "connection closed");
}

void zb_push_set_config(zb_push_t *self, const zb_push_config_t *config)
{
    assert(self && config);
    assert(config->kind == self->config->kind && config->deadline_ms > 0);
    assert(strcmp(config->name, self->config->name) == 0);
    bool moved = config->deadline_ms != self->config->deadline_ms;
    self->config = config;
    if (moved && zb_timer_armed(&self->deadline))
        zb_loop_timer_set(self->loop, &self->deadline, self->armed_ms + config->deadline_ms);
}

void zb_push_take_state(zb_push_t *self, const zb_service_status_t *status)
{
    assert(self && status);
    assert(!zb_timer_armed(&self->deadline));
    self->status.state = status->state;
    self->status.since_ms = status->since_ms;
    snprintf(self->status.reason, sizeof(self->status.reason), "%s", status->reason);
    snprintf(self->status.error, sizeof(self->status.error), "%s", status->error);
}

const zb_push_config_t *zb_push_config(zb_push_t *self)
{
    assert(self);
    return self->config;
}

const zb_service_status_t *zb_push_status(zb_push_t *self)
{
    assert(self);
    return &self->status;
}

//  Self-test: real timers in a real loop, with deadlines of tens of ms.

typedef struct {
    zb_state_t from[16];
    zb_state_t to[16];
    char reason[16][ZB_REASON_MAX + 1];
    int count;
} s_test_t;

static void s_test_notify(zb_push_t *push, zb_state_t from, void *arg)
{
    s_test_t *test = arg;
    assert(test->count < 16);
    test->from[test->count] = from;
    test->to[test->count] = zb_push_status(push)->state;
    snprintf(test->reason[test->count], sizeof(test->reason[0]), "%s",
             zb_push_status(push)->reason);
    test->count++;
}

static void s_test_stop(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    (void)arg;
    zb_loop_stop(loop);
}

//  Runs the loop for ms milliseconds.
static void s_test_run(zb_loop_t *loop, int64_t ms)
{
    zb_timer_t stop;
    zb_timer_init(&stop, s_test_stop, NULL);
    zb_loop_timer_set(loop, &stop, zb_time_mono_ms() + ms);
    assert(zb_loop_run(loop) == 0);
}

static void s_test_expect(s_test_t *test, int index, zb_state_t from, zb_state_t to,
                          const char *reason)
{
    assert(test->count > index);
    assert(test->from[index] == from);
    assert(test->to[index] == to);
    assert(strcmp(test->reason[index], reason) == 0);
}

void zb_push_test(bool verbose)
{
    (void)verbose;
    zb_loop_t *loop = zb_loop_new();
    assert(loop);
    s_test_t test;

    //  push: never connected within the deadline.
    zb_push_config_t config = {"worker", ZB_PUSH_PUSH, 70, 100};
    memset(&test, 0, sizeof(test));
    zb_push_t *push = zb_push_new(loop, &config, s_test_notify, &test);
    assert(push);
    assert(strcmp(zb_push_status(push)->kind, "push") == 0);
    assert(zb_push_status(push)->state == ZB_STATE_UNKNOWN);
    assert(zb_push_status(push)->rtt_us == -1);
    assert(zb_push_config(push) == &config);
    int64_t start = zb_time_mono_ms();
    zb_push_start(push);
    s_test_run(loop, 30);
    assert(test.count == 0);
    s_test_run(loop, 100);
    assert(test.count == 1);
    s_test_expect(&test, 0, ZB_STATE_UNKNOWN, ZB_STATE_DOWN, "never-connected");
    assert(zb_time_mono_ms() - start >= 100);
    assert(strstr(zb_push_status(push)->error, "no HELLO within"));
    //  Stray reports for a service without a connection change nothing.
    zb_push_ping(push);
    zb_push_checkin(push);
    zb_push_bye(push);
    zb_push_closed(push, "x");
    s_test_run(loop, 80);
    assert(test.count == 1);

    //  HELLO: up; lines keep it up past several deadlines; silence: timeout.
    zb_push_hello(push);
    s_test_expect(&test, 1, ZB_STATE_DOWN, ZB_STATE_UP, "ok");
    assert(zb_push_status(push)->error[0] == '\0');
    for (int i = 0; i < 5; i++) {
        s_test_run(loop, 30);
        if (i % 2)
            zb_push_ping(push);
        else
            zb_push_checkin(push);
    }
    zb_push_hello(push); // a replacement connection: no event
    assert(test.count == 2);
    s_test_run(loop, 250);
    assert(test.count == 3);
    s_test_expect(&test, 2, ZB_STATE_UP, ZB_STATE_DOWN, "timeout");
    assert(strcmp(zb_push_status(push)->error, "no heartbeat for 100ms") == 0);
    //  The connection is the agent's to close: a close reported afterwards
    //  is no second verdict.
    zb_push_closed(push, "connection closed");
    assert(test.count == 3);

    //  EOF without BYE: down at once; BYE: stopped, and it stays stopped.
    zb_push_hello(push);
    s_test_expect(&test, 3, ZB_STATE_DOWN, ZB_STATE_UP, "ok");
    zb_push_closed(push, "connection closed without BYE");
    s_test_expect(&test, 4, ZB_STATE_UP, ZB_STATE_DOWN, "closed");
    assert(strcmp(zb_push_status(push)->error, "connection closed without BYE") == 0);
    zb_push_hello(push);
    zb_push_bye(push);
    s_test_expect(&test, 5, ZB_STATE_DOWN, ZB_STATE_UP, "ok");
    s_test_expect(&test, 6, ZB_STATE_UP, ZB_STATE_STOPPED, "bye");
    s_test_run(loop, 150);
    assert(test.count == 7);
    zb_push_hello(push);
    s_test_expect(&test, 7, ZB_STATE_STOPPED, ZB_STATE_UP, "ok");
    zb_push_destroy(&push);
    assert(push == NULL);
    zb_push_destroy(&push);

    //  ttl: expired without any check-in, up on CHECKIN, expired again.
    zb_push_config_t ttl_config = {"backup", ZB_PUSH_TTL, 50, 50};
    memset(&test, 0, sizeof(test));
    push = zb_push_new(loop, &ttl_config, s_test_notify, &test);
    assert(push);
    assert(strcmp(zb_push_status(push)->kind, "ttl") == 0);
    zb_push_start(push);
    zb_push_hello(push); // HELLO alone is no check-in
    s_test_run(loop, 100);
    s_test_expect(&test, 0, ZB_STATE_UNKNOWN, ZB_STATE_DOWN, "ttl-expired");
    assert(strstr(zb_push_status(push)->error, "of the agent's start"));
    zb_push_hello(push);
    zb_push_checkin(push);
    s_test_expect(&test, 1, ZB_STATE_DOWN, ZB_STATE_UP, "ok");
    //  The job closes (politely or not): its ttl keeps running.
    zb_push_bye(push);
    zb_push_closed(push, "connection closed without BYE");
    zb_push_ping(push);
    assert(test.count == 2);
    s_test_run(loop, 30);
    zb_push_checkin(push); // restarts the ttl
    s_test_run(loop, 30);
    assert(test.count == 2);
    s_test_run(loop, 60);
    s_test_expect(&test, 2, ZB_STATE_UP, ZB_STATE_DOWN, "ttl-expired");
    assert(strcmp(zb_push_status(push)->error, "no check-in for 50ms") == 0);
    assert(test.count == 3);
    zb_push_destroy(&push);

    //  A reload: a longer deadline moves the running one, counted from the
    //  line that armed it; the state carries on, without an event.
    zb_push_config_t longer = {"worker", ZB_PUSH_PUSH, 70, 300};
    memset(&test, 0, sizeof(test));
    push = zb_push_new(loop, &config, s_test_notify, &test);
    assert(push);
    zb_push_start(push);
    zb_push_hello(push);
    s_test_expect(&test, 0, ZB_STATE_UNKNOWN, ZB_STATE_UP, "ok");
    start = zb_time_mono_ms();
    zb_push_ping(push);
    s_test_run(loop, 50);
    zb_push_set_config(push, &longer);
    assert(zb_push_config(push) == &longer);
    s_test_run(loop, 150); // past the old deadline (100), not the new one
    assert(test.count == 1);
    s_test_run(loop, 200);
    s_test_expect(&test, 1, ZB_STATE_UP, ZB_STATE_DOWN, "timeout");
    assert(zb_time_mono_ms() - start >= 300);
    assert(strcmp(zb_push_status(push)->error, "no heartbeat for 300ms") == 0);
    //  Taking over another service's verdict: no event, the same since.
    zb_service_status_t other = *zb_push_status(push);
    other.state = ZB_STATE_UP;
    other.since_ms = 12345;
    snprintf(other.reason, sizeof(other.reason), "ok");
    other.error[0] = '\0';
    zb_push_t *successor = zb_push_new(loop, &longer, s_test_notify, &test);
    assert(successor);
    zb_push_take_state(successor, &other);
    assert(zb_push_status(successor)->state == ZB_STATE_UP);
    assert(zb_push_status(successor)->since_ms == 12345);
    assert(strcmp(zb_push_status(successor)->kind, "push") == 0);
    zb_push_hello(successor); // already up: no event
    assert(test.count == 2);
    zb_push_destroy(&successor);
    zb_push_destroy(&push);
    zb_loop_destroy(&loop);
}
