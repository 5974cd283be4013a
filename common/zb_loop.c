/*  zb_loop: epoll + timer heap + signalfd event loop. See zb_loop.h. */
#include "zb_loop.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define ZB_LOOP_MAX_EVENTS 256
#define ZB_LOOP_MAX_TIMERS 64 // expired timers run per pass, see s_dispatch_timers

//  One watched fd. The generation travels in the epoll event so that an event
//  fetched for an fd that was closed and reused within the same pass is never
//  handed to the new owner.
typedef struct {
    zb_loop_fd_fn *fn; // NULL when the slot is free
    void *arg;
    int events;   // ZB_LOOP_READ | ZB_LOOP_WRITE currently wanted
    uint32_t gen; // bumped on every add
} s_fd_slot_t;

typedef struct {
    zb_loop_signal_fn *fn;
    void *arg;
} s_signal_slot_t;

struct _zb_loop_t {
    int epfd;                       // the epoll instance
    s_fd_slot_t *fds;               // indexed by fd
    size_t fd_alloc;                // slots in fds
    zb_heap_t *timers;              // armed timers, by deadline (zb_heap: the deadlines sit
                                    // beside the pointers, so sifting stays in the array)
    int sigfd;                      // signalfd, -1 until the first signal
    sigset_t sigmask;               // signals delivered through sigfd
    s_signal_slot_t signals[_NSIG]; // handler per signal number
    int64_t now;                    // monotonic ms, read once per pass
    bool stopped;                   // zb_loop_stop was called
};

zb_loop_t *zb_loop_new(void)
{
    zb_loop_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (self->epfd == -1) {
        free(self);
        return NULL;
    }
    self->timers = zb_heap_new();
    if (!self->timers) {
        close(self->epfd);
        free(self);
        return NULL;
    }
    self->sigfd = -1;
    sigemptyset(&self->sigmask);
    self->now = zb_time_mono_ms();
    return self;
}

//  Signals stay blocked after destroy on purpose: a second SIGTERM arriving
//  during shutdown must not kill the process with the default action.
void zb_loop_destroy(zb_loop_t **self_p)
{
    assert(self_p);
    zb_loop_t *self = *self_p;
    if (!self)
        return;
    //  Timers are owned by the caller; zb_heap_destroy disarms them so
    //  zb_timer_armed is truthful if the owner outlives the loop.
    zb_heap_destroy(&self->timers);
    if (self->sigfd != -1)
        close(self->sigfd);
    close(self->epfd);
    free(self->fds);
    free(self);
    *self_p = NULL;
}

static uint32_t s_epoll_events(int events)
{
    uint32_t ev = 0;
    if (events & ZB_LOOP_READ)
        ev |= EPOLLIN;
    if (events & ZB_LOOP_WRITE)
        ev |= EPOLLOUT;
    return ev;
}

static int s_fd_reserve(zb_loop_t *self, int fd)
{
    if ((size_t)fd < self->fd_alloc)
        return 0;
    size_t alloc = self->fd_alloc ? self->fd_alloc : 64;
    while (alloc <= (size_t)fd)
        alloc *= 2;
    s_fd_slot_t *fds = realloc(self->fds, alloc * sizeof(*fds));
    if (!fds)
        return -1;
    memset(fds + self->fd_alloc, 0, (alloc - self->fd_alloc) * sizeof(*fds));
    self->fds = fds;
    self->fd_alloc = alloc;
    return 0;
}

int zb_loop_add_fd(zb_loop_t *self, int fd, int events, zb_loop_fd_fn *fn, void *arg)
{
    assert(self);
    assert(fn);
    assert(fd >= 0);
    if (s_fd_reserve(self, fd) == -1)
        return -1;
    s_fd_slot_t *slot = &self->fds[fd];
    assert(slot->fn == NULL); // added twice
    uint32_t gen = slot->gen + 1;
    struct epoll_event ev = {.events = s_epoll_events(events),
                             .data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd};
    if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
        return -1;
    slot->fn = fn;
    slot->arg = arg;
    slot->events = events;
    slot->gen = gen;
    return 0;
}

int zb_loop_mod_fd(zb_loop_t *self, int fd, int events)
{
    assert(self);
    assert(fd >= 0 && (size_t)fd < self->fd_alloc && self->fds[fd].fn);
    s_fd_slot_t *slot = &self->fds[fd];
    if (slot->events == events)
        return 0;
    struct epoll_event ev = {.events = s_epoll_events(events),
                             .data.u64 = ((uint64_t)slot->gen << 32) | (uint32_t)fd};
    if (epoll_ctl(self->epfd, EPOLL_CTL_MOD, fd, &ev) == -1)
        return -1;
    slot->events = events;
    return 0;
}

void zb_loop_del_fd(zb_loop_t *self, int fd)
{
    assert(self);
    if (fd < 0 || (size_t)fd >= self->fd_alloc || !self->fds[fd].fn)
        return;
    //  Can only fail if fd is already closed, and then the kernel has
    //  forgotten it anyway.
    epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL);
    self->fds[fd].fn = NULL;
    self->fds[fd].arg = NULL;
    self->fds[fd].events = 0;
}

//  Timer heap

void zb_timer_init(zb_timer_t *timer, zb_loop_timer_fn *fn, void *arg)
{
    assert(timer);
    assert(fn);
    timer->node = (zb_heap_node_t){0, 0};
    timer->fn = fn;
    timer->arg = arg;
}

bool zb_timer_armed(const zb_timer_t *timer)
{
    assert(timer);
    return timer->node.index != 0;
}

//  The timer a heap node is in.
static zb_timer_t *s_timer_of(zb_heap_node_t *node)
{
    return node ? (zb_timer_t *)((char *)node - offsetof(zb_timer_t, node)) : NULL;
}

void zb_loop_timer_set(zb_loop_t *self, zb_timer_t *timer, int64_t deadline)
{
    assert(self);
    assert(timer && timer->fn);
    //  The heap only ever grows to the number of timers the program owns;
    //  running out of memory for it leaves no way to keep time.
    if (zb_heap_set(self->timers, &timer->node, deadline) != 0) {
        fprintf(stderr, "zb_loop: out of memory for %zu timers\n", zb_heap_size(self->timers) + 1);
        abort();
    }
}

void zb_loop_timer_cancel(zb_loop_t *self, zb_timer_t *timer)
{
    assert(self);
    assert(timer);
    zb_heap_remove(self->timers, &timer->node);
}

//  Signals

static void s_on_signalfd(zb_loop_t *self, int fd, int events, void *arg)
{
    (void)events;
    (void)arg;
    struct signalfd_siginfo info;
    while (read(fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
        int signum = (int)info.ssi_signo;
        if (signum > 0 && signum < _NSIG && self->signals[signum].fn)
            self->signals[signum].fn(self, signum, self->signals[signum].arg);
    }
}

int zb_loop_add_signal(zb_loop_t *self, int signum, zb_loop_signal_fn *fn, void *arg)
{
    assert(self);
    assert(fn);
    assert(signum > 0 && signum < _NSIG);
    sigset_t mask = self->sigmask;
    sigaddset(&mask, signum);
    //  Blocked in this thread; threads created afterwards (ZeroMQ's) inherit
    //  the mask, so the signal can only be taken through the signalfd.
    if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
        return -1;
    int fd = signalfd(self->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd == -1)
        return -1;
    if (self->sigfd == -1) {
        if (zb_loop_add_fd(self, fd, ZB_LOOP_READ, s_on_signalfd, NULL) == -1) {
            close(fd);
            return -1;
        }
        self->sigfd = fd;
    }
    self->sigmask = mask;
    self->signals[signum].fn = fn;
    self->signals[signum].arg = arg;
    return 0;
}

//  Running

int64_t zb_loop_now(zb_loop_t *self)
{
    assert(self);
    return self->now;
}

void zb_loop_stop(zb_loop_t *self)
{
    assert(self);
    self->stopped = true;
}

static int s_wait_timeout(zb_loop_t *self)
{
    zb_heap_node_t *first = zb_heap_top(self->timers);
    if (!first)
        return -1;
    int64_t wait = first->key - zb_time_mono_ms();
    if (wait <= 0)
        return 0;
    return wait > 60000 ? 60000 : (int)wait;
}

static void s_dispatch_fds(zb_loop_t *self, struct epoll_event *events, int count)
{
    for (int i = 0; i < count && !self->stopped; i++) {
        int fd = (int)(uint32_t)events[i].data.u64;
        uint32_t gen = (uint32_t)(events[i].data.u64 >> 32);
        if ((size_t)fd >= self->fd_alloc)
            continue;
        s_fd_slot_t *slot = &self->fds[fd];
        //  Deleted, or deleted and re-added, by an earlier handler this pass.
        if (!slot->fn || slot->gen != gen)
            continue;
        int ready = 0;
        if (events[i].events & EPOLLIN)
            ready |= ZB_LOOP_READ;
        if (events[i].events & EPOLLOUT)
            ready |= ZB_LOOP_WRITE;
        //  Mask with what is wanted now: an earlier handler may have
        //  changed the interest since epoll_wait returned.
        ready &= slot->events;
        if (events[i].events & (EPOLLERR | EPOLLHUP))
            ready |= ZB_LOOP_ERROR | ZB_LOOP_READ;
        if (ready)
            slot->fn(self, fd, ready, slot->arg);
    }
}

static void s_dispatch_timers(zb_loop_t *self)
{
    //  Bounded by the timers armed at the start, so a handler that re-arms
    //  itself for "now" cannot keep the loop from polling, and by
    //  ZB_LOOP_MAX_TIMERS: thousands of timers that expire together (the
    //  push listener's HELLO timeouts after a connection flood) are worked
    //  off over several passes, with I/O polled in between, so a probe's
    //  reply is not left waiting behind all of them. The remaining expired
    //  timers make the next epoll_wait return at once.
    size_t armed = zb_heap_size(self->timers);
    size_t budget = armed < ZB_LOOP_MAX_TIMERS ? armed : ZB_LOOP_MAX_TIMERS;
    zb_heap_node_t *first;
    while (budget-- > 0 && !self->stopped && (first = zb_heap_top(self->timers)) &&
           first->key <= self->now) {
        zb_timer_t *timer = s_timer_of(first);
        zb_loop_timer_cancel(self, timer);
        timer->fn(self, timer, timer->arg);
    }
}

int zb_loop_run(zb_loop_t *self)
{
    assert(self);
    self->stopped = false;
    struct epoll_event events[ZB_LOOP_MAX_EVENTS];
    while (!self->stopped) {
        int count = epoll_wait(self->epfd, events, ZB_LOOP_MAX_EVENTS, s_wait_timeout(self));
        if (count == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        self->now = zb_time_mono_ms();
        s_dispatch_fds(self, events, count);
        s_dispatch_timers(self);
    }
    return 0;
}

//  Self-test

typedef struct {
    int order[16];
    int count;
    zb_timer_t timers[8];
    int pipe_rd, pipe_wr;
    int reads;
    int signals;
} s_test_t;

static void s_test_timer(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    s_test_t *test = arg;
    int which = (int)(timer - test->timers);
    assert(!zb_timer_armed(timer));
    assert(zb_loop_now(loop) >= timer->node.key);
    test->order[test->count++] = which;
    if (which == 7)
        zb_loop_stop(loop);
}

static void s_test_readable(zb_loop_t *loop, int fd, int events, void *arg)
{
    s_test_t *test = arg;
    assert(events & ZB_LOOP_READ);
    char buf[16];
    ssize_t n = read(fd, buf, sizeof(buf));
    assert(n > 0);
    test->reads++;
    zb_loop_del_fd(loop, fd);
    zb_loop_stop(loop);
}

static void s_test_writable(zb_loop_t *loop, int fd, int events, void *arg)
{
    s_test_t *test = arg;
    assert(events & ZB_LOOP_WRITE);
    assert(write(fd, "x", 1) == 1);
    zb_loop_del_fd(loop, fd);
    //  The reader sees the byte in a later pass.
    assert(zb_loop_add_fd(loop, test->pipe_rd, ZB_LOOP_READ, s_test_readable, test) == 0);
}

static void s_test_signal(zb_loop_t *loop, int signum, void *arg)
{
    s_test_t *test = arg;
    assert(signum == SIGUSR1);
    test->signals++;
    zb_loop_stop(loop);
}

//  Two pipes readable in the same pass; whichever handler runs first closes
//  the other pipe and opens a new one on the same fd number. The event
//  already fetched for the old fd must not reach the new fd's handler.
typedef struct {
    int rd[2], wr[2];
    int fired;
    bool reused;
} s_reuse_t;

static void s_reuse_never(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
    assert(!"a stale event reached a reused fd");
}

static void s_reuse_first(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)events;
    s_reuse_t *test = arg;
    test->fired++;
    int other = fd == test->rd[0] ? 1 : 0;
    int old = test->rd[other];
    zb_loop_del_fd(loop, old);
    close(old);
    close(test->wr[other]);
    int fds[2];
    assert(pipe(fds) == 0);
    test->reused = fds[0] == old; // lowest free number first
    test->rd[other] = fds[0];
    test->wr[other] = fds[1];
    assert(zb_loop_add_fd(loop, fds[0], ZB_LOOP_READ, s_reuse_never, test) == 0);
    zb_loop_del_fd(loop, fd);
}

#define S_BATCH_TIMERS 300

typedef struct {
    zb_timer_t timers[S_BATCH_TIMERS];
    int fired;      // timers run so far
    int read_after; // timers that had run when the byte was read
    int pipe_wr;
} s_batch_t;

//  The first timer writes a byte; the last stops the loop.
static void s_batch_timer(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    s_batch_t *batch = arg;
    if (batch->fired++ == 0)
        assert(write(batch->pipe_wr, "b", 1) == 1);
    if (batch->fired == S_BATCH_TIMERS)
        zb_loop_stop(loop);
}

static void s_batch_readable(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    s_batch_t *batch = arg;
    char byte;
    assert(read(fd, &byte, 1) == 1);
    batch->read_after = batch->fired;
}

static void s_test_stop(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    (void)arg;
    zb_loop_stop(loop);
}

static void s_test_guard(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)loop;
    (void)timer;
    (void)arg;
    assert(!"zb_loop test timed out");
}

void zb_loop_test(bool verbose)
{
    (void)verbose;
    zb_loop_t *loop = zb_loop_new();
    assert(loop);
    s_test_t test;
    memset(&test, 0, sizeof(test));

    //  Timers fire in deadline order, whatever the arming order; cancel and
    //  re-arm work; a cancelled timer never fires.
    for (int i = 0; i < 8; i++)
        zb_timer_init(&test.timers[i], s_test_timer, &test);
    int64_t now = zb_time_mono_ms();
    int delays[8] = {30, 10, 50, 20, 40, 5, 60, 80};
    for (int i = 0; i < 8; i++)
        zb_loop_timer_set(loop, &test.timers[i], now + delays[i]);
    assert(zb_timer_armed(&test.timers[2]));
    zb_loop_timer_cancel(loop, &test.timers[2]); // 50 ms: cancelled
    assert(!zb_timer_armed(&test.timers[2]));
    zb_loop_timer_cancel(loop, &test.timers[2]);        // twice is harmless
    zb_loop_timer_set(loop, &test.timers[6], now + 1);  // 60 → 1 ms
    zb_loop_timer_set(loop, &test.timers[1], now + 45); // 10 → 45 ms
    assert(zb_loop_run(loop) == 0);
    int expect[] = {6, 5, 3, 0, 4, 1, 7};
    assert(test.count == 7);
    for (int i = 0; i < 7; i++)
        assert(test.order[i] == expect[i]);
    assert(zb_time_mono_ms() >= now + 80); // never early

    //  Many timers: through random arming, re-arming (earlier and later)
    //  and cancels they come off in deadline order (the heap's own order is
    //  zb_heap_test's).
    static zb_timer_t many[2000];
    for (int i = 0; i < 2000; i++)
        zb_timer_init(&many[i], s_test_guard, NULL);
    for (int round = 0; round < 20000; round++) {
        zb_timer_t *timer = &many[rand() % 2000];
        if (rand() % 4 == 0)
            zb_loop_timer_cancel(loop, timer);
        else
            zb_loop_timer_set(loop, timer, now + 1000000 + (rand() % 5000));
    }
    int64_t previous = 0;
    zb_heap_node_t *top;
    while ((top = zb_heap_top(loop->timers)) && top->key > now + 100000) {
        zb_timer_t *first = s_timer_of(top);
        assert(zb_timer_armed(first) && first->node.key >= previous);
        previous = first->node.key;
        zb_loop_timer_cancel(loop, first);
    }
    for (int i = 0; i < 2000; i++)
        assert(!zb_timer_armed(&many[i]));

    //  fd events: writable first, then readable on a pipe.
    int fds[2];
    assert(pipe(fds) == 0);
    test.pipe_rd = fds[0];
    test.pipe_wr = fds[1];
    zb_timer_t guard;
    zb_timer_init(&guard, s_test_guard, NULL);
    zb_loop_timer_set(loop, &guard, zb_time_mono_ms() + 5000);
    assert(zb_loop_add_fd(loop, fds[1], ZB_LOOP_WRITE, s_test_writable, &test) == 0);
    assert(zb_loop_run(loop) == 0);
    assert(test.reads == 1);

    //  I/O before timers: a byte already waiting wins over a timer that
    //  expired meanwhile (both are ready in the same pass).
    assert(write(fds[1], "y", 1) == 1);
    test.count = 0;
    test.reads = 0;
    zb_loop_timer_set(loop, &test.timers[7], zb_time_mono_ms() - 1);
    assert(zb_loop_add_fd(loop, fds[0], ZB_LOOP_READ, s_test_readable, &test) == 0);
    assert(zb_loop_run(loop) == 0);
    assert(test.reads == 1 && test.count == 0);
    assert(zb_timer_armed(&test.timers[7]));
    assert(zb_loop_run(loop) == 0); // now the timer, which stops the loop
    assert(test.count == 1 && test.order[0] == 7);

    //  Timers that expire together are run in batches with I/O in
    //  between: a byte that arrives is read before the last of them.
    s_batch_t batch;
    memset(&batch, 0, sizeof(batch));
    batch.pipe_wr = fds[1];
    zb_loop_del_fd(loop, fds[0]);
    assert(zb_loop_add_fd(loop, fds[0], ZB_LOOP_READ, s_batch_readable, &batch) == 0);
    for (int i = 0; i < S_BATCH_TIMERS; i++) {
        zb_timer_init(&batch.timers[i], s_batch_timer, &batch);
        zb_loop_timer_set(loop, &batch.timers[i], zb_time_mono_ms() - 1);
    }
    assert(zb_loop_run(loop) == 0);
    assert(batch.fired == S_BATCH_TIMERS);
    assert(batch.read_after > 0 && batch.read_after < S_BATCH_TIMERS);
    zb_loop_del_fd(loop, fds[0]);

    //  mod_fd: a read-only interest is not woken by writability.
    assert(zb_loop_add_fd(loop, fds[1], ZB_LOOP_READ | ZB_LOOP_WRITE, s_test_writable, &test) == 0);
    assert(zb_loop_mod_fd(loop, fds[1], 0) == 0);
    zb_loop_del_fd(loop, fds[1]);
    zb_loop_del_fd(loop, fds[1]); // twice is harmless
    close(fds[0]);
    close(fds[1]);

    //  An fd closed and reused within one pass gets no stale event.
    s_reuse_t reuse;
    memset(&reuse, 0, sizeof(reuse));
    for (int i = 0; i < 2; i++) {
        int pair[2];
        assert(pipe(pair) == 0);
        reuse.rd[i] = pair[0];
        reuse.wr[i] = pair[1];
        assert(write(pair[1], "z", 1) == 1);
        assert(zb_loop_add_fd(loop, pair[0], ZB_LOOP_READ, s_reuse_first, &reuse) == 0);
    }
    zb_timer_t stop;
    zb_timer_init(&stop, s_test_stop, NULL);
    zb_loop_timer_set(loop, &stop, zb_time_mono_ms() + 30);
    assert(zb_loop_run(loop) == 0);
    assert(reuse.fired == 1 && reuse.reused);
    for (int i = 0; i < 2; i++) {
        zb_loop_del_fd(loop, reuse.rd[i]);
        close(reuse.rd[i]);
        close(reuse.wr[i]);
    }

    //  Signals arrive through the loop, not a handler.
    assert(zb_loop_add_signal(loop, SIGUSR1, s_test_signal, &test) == 0);
    assert(kill(getpid(), SIGUSR1) == 0);
    assert(zb_loop_run(loop) == 0);
    assert(test.signals == 1);

    zb_loop_timer_cancel(loop, &guard);
    zb_loop_destroy(&loop);
    assert(loop == NULL);
    zb_loop_destroy(&loop);
}
