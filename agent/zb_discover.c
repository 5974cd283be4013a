/*  zb_discover: services discovered from Docker labels. See zb_discover.h. */
#include "zb_discover.h"
#include "zb_docker.h"
#include "zb_log.h"
#include "zb_probe.h"
#include "zb_time.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    S_RUNNING, // the probe's verdicts count (after the grace and start period)
    S_ENDING,  // a kill was sent: waiting for the die; timer: give up waiting
    S_DIED,    // died after a kill: waiting for Docker's stop; timer: the wait
    S_EXITED   // ended: stopped or down until it starts again
} s_phase_t;

typedef struct {
    zb_discover_t *owner;          // for callbacks
    char id[ZB_DOCKER_ID_MAX + 1]; // the container it follows now
    zb_agent_config_t *config;     // the probe's configuration (owned)
    zb_probe_t *probe;             // while the container runs
    zb_service_status_t status;    // what beats report
    s_phase_t phase;               // see above
    int kill_signal;               // the first signal of this ending
    bool oom;                      // an oom event since the start
    int exit_code;                 // of the last die
    int64_t start_until;           // monotonic ms: the start period's end
    zb_timer_t timer;              // meaning depends on phase
    bool seen;                     // in the current sync's list
    bool health;                   // zbeat.health = yes
    bool unhealthy;                // and Docker's healthcheck says unhealthy
} s_service_t;

struct _zb_discover_t {
    zb_loop_t *loop;                   // everything runs here
    zb_resolver_t *resolver;           // for the probes (addresses are literal)
    zb_docker_t *docker;               // the API reader
    zb_discover_callbacks_t callbacks; // to the agent
    void *arg;                         // for callbacks
    size_t max_services;               // the agent's room for them
    s_service_t **services;            // any order
    size_t count;                      // of services
    size_t alloc;                      // slots in services
};

static void s_set(s_service_t *s, zb_state_t to, const char *reason, const char *error)
{
    zb_state_t from = s->status.state;
    snprintf(s->status.reason, sizeof(s->status.reason), "%s", reason);
    snprintf(s->status.error, sizeof(s->status.error), "%s", error);
    if (from == to)
        return;
    s->status.state = to;
    s->status.since_ms = zb_time_wall_ms();
    s->owner->callbacks.changed(s->owner->arg, &s->status, from);
}

//  The probe's verdict, taken when nothing Docker said overrides it.
static void s_take_probe_verdict(s_service_t *s)
{
    if (s->health && s->unhealthy) {
        s_set(s, ZB_STATE_DOWN, "docker-health", "Docker's healthcheck says unhealthy");
        return;
    }
    const zb_service_status_t *probe = zb_probe_status(s->probe);
    if (probe->state == ZB_STATE_UP || probe->state == ZB_STATE_DOWN)
        s_set(s, probe->state, probe->reason, probe->error);
}

static void s_on_timer(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)loop;
    (void)timer;
    s_service_t *s = arg;
    char error[64];
    switch (s->phase) {
    case S_RUNNING: // the grace (or start period) of a down verdict is over
        if (s->probe && zb_probe_status(s->probe)->state == ZB_STATE_DOWN)
            s_take_probe_verdict(s);
        break;
    case S_ENDING: // the signal ended nothing: the probe speaks again
        s->phase = S_RUNNING;
        if (s->probe)
            s_take_probe_verdict(s);
        break;
    case S_DIED: // no stop (or oom) followed: it was not Docker's stop (or the OOM killer)
        s->phase = S_EXITED;
        snprintf(error, sizeof(error), "container exited with code %d", s->exit_code);
        char reason[32];
        snprintf(reason, sizeof(reason), "exited %d", s->exit_code);
        s_set(s, ZB_STATE_DOWN, reason, error);
        break;
    case S_EXITED:
        break;
    }
}

static void s_on_probe(zb_probe_t *probe, zb_state_t from, void *arg)
{
    (void)from;
    s_service_t *s = arg;
    if (s->phase != S_RUNNING)
        return; // Docker's events decide
    const zb_service_status_t *status = zb_probe_status(probe);
    zb_loop_t *loop = s->owner->loop;
    if (s->health && s->unhealthy)
        return; // down for Docker's healthcheck until it says healthy
    if (status->state == ZB_STATE_UP) {
        zb_loop_timer_cancel(loop, &s->timer);
        s_set(s, ZB_STATE_UP, status->reason, status->error);
    } else if (status->state == ZB_STATE_DOWN && s->status.state == ZB_STATE_DOWN)
        s_set(s, ZB_STATE_DOWN, status->reason, status->error);
    else if (status->state == ZB_STATE_DOWN && !zb_timer_armed(&s->timer)) {
        int64_t at = zb_loop_now(loop) + ZB_DISCOVER_GRACE_MS;
        zb_loop_timer_set(loop, &s->timer, at > s->start_until ? at : s->start_until);
    }
}

static void s_stop_probe(s_service_t *s)
{
    if (s->probe) {
        const zb_service_status_t *probe = zb_probe_status(s->probe);
        s->status.rtt_us = probe->rtt_us;
        zb_probe_destroy(&s->probe);
    }
}

static void s_service_destroy(s_service_t **s_p)
{
    s_service_t *s = *s_p;
    if (s) {
        zb_loop_timer_cancel(s->owner->loop, &s->timer);
        zb_probe_destroy(&s->probe);
        zb_agent_config_destroy(&s->config);
        free(s);
        *s_p = NULL;
    }
}

static s_service_t *s_find_name(zb_discover_t *self, const char *name, size_t *index)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->services[i]->status.name, name) == 0) {
            if (index)
                *index = i;
            return self->services[i];
        }
    return NULL;
}

static s_service_t *s_find_id(zb_discover_t *self, const char *id, size_t *index)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->services[i]->id, id) == 0) {
            if (index)
                *index = i;
            return self->services[i];
        }
    return NULL;
}

static void s_remove(zb_discover_t *self, size_t index)
{
    s_service_t *s = self->services[index];
    zb_log_info("docker: %s: container %.12s removed: no longer watched", s->status.name, s->id);
    s_stop_probe(s);
    self->callbacks.removed(self->arg, &s->status);
    self->services[index] = self->services[--self->count];
    s_service_destroy(&s);
}

//  The container ended while nobody was listening (a resync): its exit
//  code is all there is to tell a stop from a crash.
static void s_exited_unseen(s_service_t *s, const zb_docker_msg_t *msg)
{
    zb_loop_timer_cancel(s->owner->loop, &s->timer);
    s_stop_probe(s);
    s->phase = S_EXITED;
    char reason[32], error[64];
    snprintf(reason, sizeof(reason), "exited %d", msg->exit_code);
    snprintf(error, sizeof(error), "container exited with code %d", msg->exit_code);
    if (msg->oom_killed)
        s_set(s, ZB_STATE_DOWN, "oom-killed", "killed by the kernel's OOM killer");
    else if (msg->exit_code != 0)
        s_set(s, ZB_STATE_DOWN, reason, error);
    else
        s_set(s, ZB_STATE_STOPPED, "docker-stop", "");
}

//  A running labelled container: its service probes it from now on.
static void s_on_container(zb_discover_t *self, zb_docker_msg_t *msg)
{
    s_service_t *s = s_find_name(self, msg->name, NULL);
    if (s && strcmp(s->id, msg->id) != 0 && !msg->running)
        return; // an old container of the name, while a newer one runs
    if (!msg->running) {
        if (s) {
            s->seen = true;
            if (s->phase == S_RUNNING || s->phase == S_ENDING)
                s_exited_unseen(s, msg);
        }
        return;
    }
    if (!s && self->callbacks.taken(self->arg, msg->name)) {
        zb_log_warning("docker: container %s: a configured service is called %s: not probed",
                       msg->container, msg->name);
        return;
    }
    const zb_probe_config_t *probe = &msg->config->services[0].probe;
    if (s && s->probe && strcmp(s->id, msg->id) == 0 &&
        strcmp(zb_probe_config(s->probe)->target, probe->target) == 0) {
        s->seen = true; // a resync, or a repeated start: the same container
        if (s->health && s->unhealthy != msg->unhealthy && s->phase == S_RUNNING) {
            s->unhealthy = msg->unhealthy; // changed while the API was away
            zb_loop_timer_cancel(self->loop, &s->timer);
            s_take_probe_verdict(s);
        }
        return;
    }
    if (!s) {
        if (self->count == self->max_services) {
            zb_log_warning("docker: container %s: %zu services already: not probed", msg->container,
                           self->max_services);
            return;
        }
        if (self->count == self->alloc) {
            size_t alloc = self->alloc ? self->alloc * 2 : 16;
            s_service_t **services = realloc(self->services, alloc * sizeof(*services));
            if (!services) {
                zb_log_error("docker: container %s: out of memory", msg->container);
                return;
            }
            self->services = services;
            self->alloc = alloc;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
            zb_log_error("docker: container %s: out of memory", msg->container);
            return;
        }
        s->owner = self;
        zb_timer_init(&s->timer, s_on_timer, s);
        snprintf(s->status.name, sizeof(s->status.name), "%s", msg->name);
        snprintf(s->status.kind, sizeof(s->status.kind), "docker");
        s->status.state = ZB_STATE_UNKNOWN;
        s->status.since_ms = zb_time_wall_ms();
        s->status.rtt_us = -1;
        self->services[self->count++] = s;
    }
    //  A new container, or a new address: a new probe, the service's
    //  state carries on until its first verdict.
    zb_loop_timer_cancel(self->loop, &s->timer);
    zb_probe_destroy(&s->probe);
    zb_agent_config_destroy(&s->config);
    s->config = msg->config;
    msg->config = NULL;
    snprintf(s->id, sizeof(s->id), "%s", msg->id);
    snprintf(s->status.container, sizeof(s->status.container), "%.12s", msg->id);
    s->phase = S_RUNNING;
    s->health = msg->health;
    s->unhealthy = msg->unhealthy;
    s->oom = false;
    s->kill_signal = 0;
    s->seen = true;
    probe = &s->config->services[0].probe;
    int64_t period = probe->interval_ms * probe->fails;
    s->start_until = zb_loop_now(self->loop) +
                     (period > ZB_DISCOVER_START_MIN_MS ? period : ZB_DISCOVER_START_MIN_MS);
    s->probe = zb_probe_new(self->loop, self->resolver, probe, s_on_probe, s);
    if (!s->probe) {
        zb_log_error("docker: %s: out of memory: not probed", s->status.name);
        return;
    }
    snprintf(s->status.addr, sizeof(s->status.addr), "%s", zb_probe_status(s->probe)->addr);
    zb_log_info("docker: %s: container %s (%.12s): probing %s", s->status.name, msg->container,
                msg->id, probe->target);
    zb_probe_start(s->probe, 0);
    if (s->health && s->unhealthy)
        s_take_probe_verdict(s);
}

static void s_on_die(zb_discover_t *self, s_service_t *s, int exit_code, bool oom_killed)
{
    s_stop_probe(s);
    zb_loop_timer_cancel(self->loop, &s->timer);
    s->exit_code = exit_code;
    char reason[32], error[64];
    snprintf(reason, sizeof(reason), "exited %d", exit_code);
    snprintf(error, sizeof(error), "container exited with code %d", exit_code);
    if (s->oom || oom_killed) {
        s->phase = S_EXITED;
        s_set(s, ZB_STATE_DOWN, "oom-killed", "killed by the kernel's OOM killer");
    } else if (s->phase == S_RUNNING && exit_code == 128 + SIGKILL) {
        //  A SIGKILL that no kill event announced: the kernel's OOM killer,
        //  whose `oom` event may come just after the `die`.
        s->phase = S_DIED;
        zb_loop_timer_set(self->loop, &s->timer, zb_loop_now(self->loop) + ZB_DISCOVER_OOM_WAIT_MS);
    } else if (s->phase == S_ENDING && s->kill_signal != SIGKILL) {
        //  Docker's stop, or docker kill with that signal: the stop event
        //  tells which.
        s->phase = S_DIED;
        zb_loop_timer_set(self->loop, &s->timer,
                          zb_loop_now(self->loop) + ZB_DISCOVER_STOP_WAIT_MS);
    } else {
        s->phase = S_EXITED;
        s_set(s, ZB_STATE_DOWN, reason, error);
    }
}

static void s_on_msg(zb_docker_msg_t *msg, void *arg)
{
    zb_discover_t *self = arg;
    size_t index = 0;
    s_service_t *s = msg->id[0] ? s_find_id(self, msg->id, &index) : NULL;
    switch (msg->what) {
    case ZB_DOCKER_SYNC:
        for (size_t i = 0; i < self->count; i++)
            self->services[i]->seen = false;
        break;
    case ZB_DOCKER_CONTAINER:
        s_on_container(self, msg);
        break;
    case ZB_DOCKER_SYNCED:
        for (size_t i = self->count; i-- > 0;)
            if (!self->services[i]->seen)
                s_remove(self, i);
        break;
    case ZB_DOCKER_KILL:
        //  Signals that ask a server to reload or report end nothing.
        if (s && s->phase == S_RUNNING && msg->signal != SIGHUP && msg->signal != SIGUSR1 &&
            msg->signal != SIGUSR2) {
            s->phase = S_ENDING;
            s->kill_signal = msg->signal;
            zb_loop_timer_set(self->loop, &s->timer,
                              zb_loop_now(self->loop) + ZB_DISCOVER_ENDING_MAX_MS);
        }
        break;
    case ZB_DOCKER_OOM:
        if (s)
            s->oom = true;
        if (s && s->phase == S_DIED && s->exit_code == 128 + SIGKILL) {
            zb_loop_timer_cancel(self->loop, &s->timer);
            s->phase = S_EXITED;
            s_set(s, ZB_STATE_DOWN, "oom-killed", "killed by the kernel's OOM killer");
        }
        break;
    case ZB_DOCKER_DIE:
        if (s && s->phase != S_EXITED)
            s_on_die(self, s, msg->exit_code, msg->oom_killed);
        break;
    case ZB_DOCKER_STOP:
        if (s && s->phase != S_RUNNING) {
            zb_loop_timer_cancel(self->loop, &s->timer);
            s_stop_probe(s);
            s->phase = S_EXITED;
            s_set(s, ZB_STATE_STOPPED, "docker-stop", "");
        }
        break;
    case ZB_DOCKER_HEALTH:
        if (s && s->health && s->unhealthy != msg->unhealthy) {
            s->unhealthy = msg->unhealthy;
            if (s->phase == S_RUNNING && s->probe) {
                zb_loop_timer_cancel(self->loop, &s->timer);
                s_take_probe_verdict(s);
            }
        }
        break;
    case ZB_DOCKER_DESTROY:
        if (s)
            s_remove(self, index);
        break;
    case ZB_DOCKER_LOST:
        zb_log_warning("%s; probing the %zu known containers meanwhile, reconnecting", msg->text,
                       self->count);
        break;
    }
    zb_docker_msg_destroy(&msg);
}

//  Without the reader: zb_discover_new, and the self-test's feeding.
static zb_discover_t *s_new(zb_loop_t *loop, zb_resolver_t *resolver, size_t max_services,
                            const zb_discover_callbacks_t *callbacks, void *arg)
{
    zb_discover_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->loop = loop;
    self->resolver = resolver;
    self->callbacks = *callbacks;
    self->arg = arg;
    self->max_services = max_services;
    return self;
}

zb_discover_t *zb_discover_new(zb_loop_t *loop, zb_resolver_t *resolver, const char *url,
                               const char *filter, size_t max_services,
                               const zb_discover_callbacks_t *callbacks, void *arg, char *err,
                               size_t errsize)
{
    assert(loop && url && callbacks);
    zb_discover_t *self = s_new(loop, resolver, max_services, callbacks, arg);
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    self->docker = zb_docker_new(loop, url, filter, s_on_msg, self, err, errsize);
    if (!self->docker)
        zb_discover_destroy(&self);
    return self;
}

void zb_discover_destroy(zb_discover_t **self_p)
{
    assert(self_p);
    zb_discover_t *self = *self_p;
    if (!self)
        return;
    zb_docker_destroy(&self->docker);
    for (size_t i = 0; i < self->count; i++)
        s_service_destroy(&self->services[i]);
    free(self->services);
    free(self);
    *self_p = NULL;
}

size_t zb_discover_count(zb_discover_t *self)
{
    assert(self);
    return self->count;
}

const zb_service_status_t *zb_discover_status(zb_discover_t *self, size_t index)
{
    assert(self && index < self->count);
    s_service_t *s = self->services[index];
    if (s->probe) {
        //  The round trip and the address as the probe has them now.
        const zb_service_status_t *probe = zb_probe_status(s->probe);
        s->status.rtt_us = probe->rtt_us;
        snprintf(s->status.addr, sizeof(s->status.addr), "%s", probe->addr);
    }
    return &s->status;
}

//  Self-test: the state machine fed Docker's messages by hand, with real
//  probes against a listening socket (the reader itself is tested against
//  a real engine in tests/integration/test_agent_docker.py).

typedef struct {
    char log[32][192]; // "name from>to reason"
    size_t count;
    const char *taken; // a configured service's name
} s_test_t;

static void s_test_changed(void *arg, const zb_service_status_t *status, zb_state_t from)
{
    s_test_t *test = arg;
    assert(test->count < 32);
    snprintf(test->log[test->count++], sizeof(test->log[0]), "%s %s>%s %s", status->name,
             zb_state_name(from), zb_state_name(status->state), status->reason);
}

static void s_test_removed(void *arg, const zb_service_status_t *status)
{
    s_test_t *test = arg;
    assert(test->count < 32);
    snprintf(test->log[test->count++], sizeof(test->log[0]), "%s %s>removed", status->name,
             zb_state_name(status->state));
}

static bool s_test_taken(void *arg, const char *name)
{
    s_test_t *test = arg;
    return test->taken && strcmp(test->taken, name) == 0;
}

static void s_test_stop(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    (void)arg;
    zb_loop_stop(loop);
}

static void s_test_run(zb_loop_t *loop, int64_t ms)
{
    zb_timer_t timer;
    zb_timer_init(&timer, s_test_stop, NULL);
    zb_loop_timer_set(loop, &timer, zb_time_mono_ms() + ms);
    zb_loop_run(loop);
    zb_loop_timer_cancel(loop, &timer);
}

static void s_test_feed(zb_discover_t *self, zb_docker_what_t what, const char *id, int number,
                        const char *name, const char *target)
{
    zb_docker_msg_t *msg = calloc(1, sizeof(*msg));
    assert(msg);
    msg->what = what;
    snprintf(msg->id, sizeof(msg->id), "%s", id ? id : "");
    msg->signal = what == ZB_DOCKER_KILL ? number : 0;
    msg->exit_code = what == ZB_DOCKER_DIE ? number : 0;
    if (what == ZB_DOCKER_CONTAINER) {
        snprintf(msg->name, sizeof(msg->name), "%s", name);
        snprintf(msg->container, sizeof(msg->container), "c-%s", name);
        msg->running = true;
        const char *keys[] = {"probe", "interval", "check"};
        const char *values[] = {target, "100ms", "tcp"};
        char err[256];
        msg->config = zb_agent_config_service("test", name, keys, values, 3, err, sizeof(err));
        assert(msg->config);
    }
    s_on_msg(msg, self);
}

static void s_test_expect(s_test_t *test, const char *line)
{
    assert(test->count > 0);
    if (strcmp(test->log[test->count - 1], line) != 0) {
        fprintf(stderr, "\nwanted \"%s\", got \"%s\"\n", line, test->log[test->count - 1]);
        assert(false);
    }
}

void zb_discover_test(bool verbose)
{
    (void)verbose;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    assert(listener >= 0 && bind(listener, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    assert(listen(listener, 64) == 0);
    assert(getsockname(listener, (struct sockaddr *)&addr, &len) == 0);
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%d", ntohs(addr.sin_port));

    zb_loop_t *loop = zb_loop_new();
    s_test_t test = {.taken = "static"};
    zb_discover_callbacks_t callbacks = {s_test_changed, s_test_removed, s_test_taken};
    zb_discover_t *self = s_new(loop, NULL, 2, &callbacks, &test);
    assert(loop && self);

    //  Found at a sync: up once probed; a configured name wins.
    s_test_feed(self, ZB_DOCKER_SYNC, NULL, 0, NULL, NULL);
    s_test_feed(self, ZB_DOCKER_CONTAINER, "aaa", 0, "cache", target);
    s_test_feed(self, ZB_DOCKER_CONTAINER, "sss", 0, "static", target);
    s_test_feed(self, ZB_DOCKER_SYNCED, NULL, 0, NULL, NULL);
    assert(zb_discover_count(self) == 1);
    s_test_run(loop, 150);
    s_test_expect(&test, "cache unknown>up ok");
    const zb_service_status_t *status = zb_discover_status(self, 0);
    assert(strcmp(status->kind, "docker") == 0 && strcmp(status->container, "aaa") == 0);
    assert(strcmp(status->addr, target) == 0);

    //  Docker's stop: kill (SIGTERM), die, stop.
    s_test_feed(self, ZB_DOCKER_KILL, "aaa", 15, NULL, NULL);
    s_test_feed(self, ZB_DOCKER_DIE, "aaa", 0, NULL, NULL);
    assert(test.count == 1); // waiting for the stop
    s_test_feed(self, ZB_DOCKER_STOP, "aaa", 0, NULL, NULL);
    s_test_expect(&test, "cache up>stopped docker-stop");
    //  A start: up again; a crash: down at once.
    s_test_feed(self, ZB_DOCKER_CONTAINER, "aaa", 0, "cache", target);
    s_test_run(loop, 150);
    s_test_expect(&test, "cache stopped>up ok");
    s_test_feed(self, ZB_DOCKER_DIE, "aaa", 2, NULL, NULL);
    s_test_expect(&test, "cache up>down exited 2");
    //  docker kill (SIGKILL): down at once.
    s_test_feed(self, ZB_DOCKER_CONTAINER, "aaa", 0, "cache", target);
    s_test_run(loop, 150);
    s_test_feed(self, ZB_DOCKER_KILL, "aaa", 9, NULL, NULL);
    s_test_feed(self, ZB_DOCKER_DIE, "aaa", 137, NULL, NULL);
    s_test_expect(&test, "cache up>down exited 137");
    //  docker kill -s TERM: no stop follows; down when the wait ends.
    s_test_feed(self, ZB_DOCKER_CONTAINER, "aaa", 0, "cache", target);
    s_test_run(loop, 150);
    s_test_expect(&test, "cache down>up ok");
    s_test_feed(self, ZB_DOCKER_KILL, "aaa", 15, NULL, NULL);
    s_test_feed(self, ZB_DOCKER_DIE, "aaa", 143, NULL, NULL);
    s_test_expect(&test, "cache down>up ok");
    int64_t t0 = zb_time_mono_ms();
    s_test_run(loop, ZB_DISCOVER_STOP_WAIT_MS + 100);
    s_test_expect(&test, "cache up>down exited 143");
    assert(zb_time_mono_ms() - t0 >= ZB_DISCOVER_STOP_WAIT_MS);
    //  A signal that ends nothing is no ending: the next die is a crash.
    s_test_feed(self, ZB_DOCKER_CONTAINER, "aaa", 0, "cache", target);
    s_test_run(loop, 150);
    s_test_feed(self, ZB_DOCKER_KILL, "aaa", SIGHUP, NULL, NULL);
    s_test_feed(self, ZB_DOCKER_OOM, "aaa", 0, NULL, NULL);
    s_test_feed(self, ZB_DOCKER_DIE, "aaa", 137, NULL, NULL);
    s_test_expect(&test, "cache up>down oom-killed");
    //  The oom event after the die; a SIGKILL from elsewhere without one.
    s_test_feed(self, ZB_DOCKER_CONTAINER, "aaa", 0, "cache", target);
    s_test_run(loop, 150);
    s_test_feed(self, ZB_DOCKER_DIE, "aaa", 137, NULL, NULL);
    s_test_expect(&test, "cache down>up ok");
    s_test_feed(self, ZB_DOCKER_OOM, "aaa", 0, NULL, NULL);
    s_test_expect(&test, "cache up>down oom-killed");
    s_test_feed(self, ZB_DOCKER_CONTAINER, "aaa", 0, "cache", target);
    s_test_run(loop, 150);
    s_test_feed(self, ZB_DOCKER_DIE, "aaa", 137, NULL, NULL);
    s_test_expect(&test, "cache down>up ok");
    s_test_run(loop, ZB_DISCOVER_OOM_WAIT_MS + 100);
    s_test_expect(&test, "cache up>down exited 137");

    //  Recreated: a new container of the name takes the service on; the
    //  old one's destroy is not the service's.
    s_test_feed(self, ZB_DOCKER_CONTAINER, "bbb", 0, "cache", target);
    s_test_run(loop, 150);
    s_test_expect(&test, "cache down>up ok");
    s_test_feed(self, ZB_DOCKER_DESTROY, "aaa", 0, NULL, NULL);
    assert(zb_discover_count(self) == 1);
    assert(strcmp(zb_discover_status(self, 0)->container, "bbb") == 0);
    //  At most max_services; a resync without it removes it.
    s_test_feed(self, ZB_DOCKER_CONTAINER, "ccc", 0, "queue", target);
    s_test_feed(self, ZB_DOCKER_CONTAINER, "ddd", 0, "third", target);
    assert(zb_discover_count(self) == 2);
    size_t before = test.count;
    s_test_feed(self, ZB_DOCKER_SYNC, NULL, 0, NULL, NULL);
    s_test_feed(self, ZB_DOCKER_CONTAINER, "ccc", 0, "queue", target);
    s_test_feed(self, ZB_DOCKER_SYNCED, NULL, 0, NULL, NULL);
    assert(test.count == before + 1);
    s_test_expect(&test, "cache up>removed");
    assert(zb_discover_count(self) == 1);
    s_test_feed(self, ZB_DOCKER_DESTROY, "ccc", 0, NULL, NULL);
    s_test_expect(&test, "queue unknown>removed");
    assert(zb_discover_count(self) == 0);

    zb_discover_destroy(&self);
    zb_loop_destroy(&loop);
    close(listener);
}
