/*  zb_http_guard: total deadlines for HTTP requests, and room for new ones.
    See zb_http_guard.h.

    A cut is shutdown(2) on the connection's socket, made under the guard's
    lock: libmicrohttpd tells the guard (zb_http_guard_close) before it
    closes a socket, so a socket the guard cuts is never one already closed
    and reused by another file.
*/
#include "zb_http_guard.h"
#include "zb_time.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef enum {
    S_HEADERS, // waiting for a request line and headers
    S_ANSWER,  // headers complete, answer being built or sent
} s_phase_t;

struct _zb_http_guard_conn_t {
    zb_http_guard_conn_t *prev, *next; // in the guard's list, oldest first
    int fd;                            // its socket
    s_phase_t phase;                   // what it is waiting for
    int64_t since;                     // monotonic ms the phase began
    bool cut;                          // shut down, closing
};

struct _zb_http_guard_t {
    pthread_mutex_t lock;              // guards everything below
    pthread_cond_t wake;               // the watchdog's sleep, cut short by destroy
    pthread_t watchdog;                // checks deadlines every tick
    bool stopping;                     // destroy asked the watchdog to end
    zb_http_guard_conn_t *head, *tail; // open connections, by age
    int slots;                         // the server's connection limit
    int reserve;                       // free slots kept for new connections
    int64_t header_ms;                 // request line and headers within this
    int64_t answer_ms;                 // answer sent within this of the headers
    zb_http_guard_stats_t stats;       // counters
};

//  Cuts a connection: its reads and writes fail at once, and its own
//  thread closes it. Called with the lock held.
static void s_cut(zb_http_guard_conn_t *conn)
{
    if (conn->cut)
        return;
    conn->cut = true;
    shutdown(conn->fd, SHUT_RDWR);
}

static void s_check(zb_http_guard_t *self, int64_t now)
{
    for (zb_http_guard_conn_t *c = self->head; c; c = c->next) {
        if (c->cut)
            continue;
        if (c->phase == S_HEADERS && now - c->since >= self->header_ms) {
            s_cut(c);
            self->stats.cut_headers++;
        } else if (c->phase == S_ANSWER && now - c->since >= self->answer_ms) {
            s_cut(c);
            self->stats.cut_answer++;
        }
    }
}

static void *s_watchdog(void *arg)
{
    zb_http_guard_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += ZB_HTTP_GUARD_TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&self->wake, &self->lock, &until);
        s_check(self, zb_time_mono_ms());
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

zb_http_guard_t *zb_http_guard_new(int slots, int reserve, int64_t header_ms, int64_t answer_ms)
{
    assert(slots > 0 && reserve >= 0 && reserve < slots && header_ms > 0 && answer_ms > 0);
    zb_http_guard_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->slots = slots;
    self->reserve = reserve;
    self->header_ms = header_ms;
    self->answer_ms = answer_ms;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&self->watchdog, NULL, s_watchdog, self) != 0) {
        pthread_cond_destroy(&self->wake);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void zb_http_guard_destroy(zb_http_guard_t **self_p)
{
    assert(self_p);
    zb_http_guard_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->watchdog, NULL);
    //  Connections left are a caller's bug; their records go anyway.
    while (self->head) {
        zb_http_guard_conn_t *next = self->head->next;
        free(self->head);
        self->head = next;
    }
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

zb_http_guard_conn_t *zb_http_guard_open(zb_http_guard_t *self, int fd)
{
    assert(self && fd >= 0);
    zb_http_guard_conn_t *conn = calloc(1, sizeof(*conn));
    pthread_mutex_lock(&self->lock);
    if (conn) {
        conn->fd = fd;
        conn->phase = S_HEADERS;
        conn->since = zb_time_mono_ms();
        conn->prev = self->tail;
        if (self->tail)
            self->tail->next = conn;
        else
            self->head = conn;
        self->tail = conn;
        self->stats.open++;
    }
    //  Slots held by connections not yet cut; when too few are left, the
    //  oldest still waiting for its headers goes, if it has waited a tenth
    //  of the header deadline: a request sent at once but not yet read (a
    //  loaded machine, a burst of slow clients reconnecting, each of which
    //  evicts one) is never the one cut.
    int live = 0;
    int64_t young = (conn ? conn->since : zb_time_mono_ms()) - self->header_ms / 10;
    zb_http_guard_conn_t *oldest = NULL;
    for (zb_http_guard_conn_t *c = self->head; c; c = c->next) {
        if (c->cut)
            continue;
        live++;
        if (c->phase == S_HEADERS && c != conn && c->since <= young &&
            (!oldest || c->since < oldest->since))
            oldest = c;
    }
    if (live > self->slots - self->reserve && oldest) {
        s_cut(oldest);
        self->stats.evicted++;
    }
    pthread_mutex_unlock(&self->lock);
    return conn;
}

void zb_http_guard_close(zb_http_guard_t *self, zb_http_guard_conn_t *conn)
{
    assert(self);
    if (!conn)
        return;
    pthread_mutex_lock(&self->lock);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        self->head = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    else
        self->tail = conn->prev;
    self->stats.open--;
    pthread_mutex_unlock(&self->lock);
    free(conn);
}

static void s_phase(zb_http_guard_t *self, zb_http_guard_conn_t *conn, s_phase_t phase)
{
    if (!conn)
        return;
    pthread_mutex_lock(&self->lock);
    if (conn->phase != phase) {
        conn->phase = phase;
        conn->since = zb_time_mono_ms();
    }
    pthread_mutex_unlock(&self->lock);
}

void zb_http_guard_headers(zb_http_guard_t *self, zb_http_guard_conn_t *conn)
{
    assert(self);
    s_phase(self, conn, S_ANSWER);
}

void zb_http_guard_done(zb_http_guard_t *self, zb_http_guard_conn_t *conn)
{
    assert(self);
    s_phase(self, conn, S_HEADERS);
}

void zb_http_guard_stats(zb_http_guard_t *self, zb_http_guard_stats_t *stats)
{
    assert(self && stats);
    pthread_mutex_lock(&self->lock);
    *stats = self->stats;
    pthread_mutex_unlock(&self->lock);
}

//  --------------------------------------------------------------------------
//  Self-test: socket pairs stand for connections; a cut one reads EOF.

static bool s_is_cut(int fd)
{
    char byte;
    return recv(fd, &byte, 1, MSG_DONTWAIT) == 0;
}

void zb_http_guard_test(bool verbose)
{
    (void)verbose;
    //  Four slots, one kept free; deadlines long enough for the watchdog to
    //  leave the first part alone.
    zb_http_guard_t *guard = zb_http_guard_new(4, 1, 200, 1000);
    assert(guard);
    int pair[5][2];
    zb_http_guard_conn_t *conn[5];
    for (int i = 0; i < 5; i++)
        assert(socketpair(AF_UNIX, SOCK_STREAM, 0, pair[i]) == 0);
    //  Three fit; the fourth leaves no slot free and evicts the oldest
    //  waiting for headers (0); 1 sent its headers, so it is not cut.
    conn[0] = zb_http_guard_open(guard, pair[0][0]);
    conn[1] = zb_http_guard_open(guard, pair[1][0]);
    zb_http_guard_headers(guard, conn[1]);
    conn[2] = zb_http_guard_open(guard, pair[2][0]);
    assert(!s_is_cut(pair[0][0]) && !s_is_cut(pair[2][0]));
    //  Until it has waited a tenth of the header deadline (20 ms), 0 is
    //  not evicted: a fourth connection now leaves no slot free.
    conn[3] = zb_http_guard_open(guard, pair[3][0]);
    assert(!s_is_cut(pair[0][0]));
    zb_http_guard_close(guard, conn[3]);
    usleep(30000);
    conn[3] = zb_http_guard_open(guard, pair[3][0]);
    assert(s_is_cut(pair[0][0]));
    assert(!s_is_cut(pair[1][0]) && !s_is_cut(pair[2][0]) && !s_is_cut(pair[3][0]));
    zb_http_guard_stats_t stats;
    zb_http_guard_stats(guard, &stats);
    assert(stats.evicted == 1 && stats.open == 4);
    zb_http_guard_close(guard, conn[0]);
    //  The header deadline cuts 2 and 3; 1, answering, lasts until its
    //  own deadline, then goes too.
    int64_t start = zb_time_mono_ms();
    while (!s_is_cut(pair[2][0]) || !s_is_cut(pair[3][0]))
        usleep(10000);
    int64_t took = zb_time_mono_ms() - start;
    assert(took >= 150 && took < 2000);
    assert(!s_is_cut(pair[1][0]));
    while (!s_is_cut(pair[1][0]))
        usleep(10000);
    //  A request that ends waits for the next one's headers afresh.
    conn[4] = zb_http_guard_open(guard, pair[4][0]);
    zb_http_guard_headers(guard, conn[4]);
    zb_http_guard_done(guard, conn[4]);
    assert(!s_is_cut(pair[4][0]));
    while (!s_is_cut(pair[4][0]))
        usleep(10000);
    zb_http_guard_stats(guard, &stats);
    assert(stats.cut_headers == 3 && stats.cut_answer == 1 && stats.evicted == 1);
    for (int i = 1; i < 5; i++)
        zb_http_guard_close(guard, conn[i]);
    zb_http_guard_stats(guard, &stats);
    assert(stats.open == 0);
    zb_http_guard_destroy(&guard);
    zb_http_guard_destroy(&guard);
    for (int i = 0; i < 5; i++) {
        close(pair[i][0]);
        close(pair[i][1]);
    }
}
