/*  zb_intake: agents' input, read as it arrives and held in bounded bytes.
    See zb_intake.h.

    The reader thread only moves ZeroMQ frames (no copy, no decoding): it
    keeps up with any sender, so ZeroMQ's queues stay short and every
    peer's heartbeats are answered, even while the monitor's loop waits for
    a locked database. Decoding happens in the loop, as before.
*/
#include "zb_intake.h"
#include "zb_log.h"
#include "zb_pace.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define S_POLL_MS 100    // the reader sees a stop request within this
#define S_STALL_MS 1000  // not woken for S_POLL_MS and this long: the process stood still
#define S_STUCK_MS 5000  // the loop running this long while the reader is late: the reader is stuck
#define S_BATCH 1000     // messages read between two looks at the stop flag
#define S_LOG_MS 10000   // drops are logged at most this often
#define S_USER_ID_MAX 64 // a Z85 CURVE key is 40 characters
#define S_CHUNK 64       // messages read before they are held, under one lock
#define S_SPARE 1024     // items kept for reuse, on each side
//  A reader later to wake than this stood still: one limit for s_wake and
//  s_seen, which must agree.
#define S_LATE_MS (S_POLL_MS + S_STALL_MS)

typedef struct _s_item_t s_item_t;
struct _s_item_t {
    s_item_t *next;
    zmq_msg_t frames[2];         // topic and JSON, as received
    int count;                   // frames the message had (only 2 are kept)
    char user_id[S_USER_ID_MAX]; // the connection's CURVE key, "" in plaintext
    size_t bytes;                // what it holds, for the budget
    bool large;                  // counted against the large budget
    int64_t read_ms;             // when the reader took it (its round's start, mono)
};

typedef struct {
    s_item_t *head, *tail;
} s_list_t;

static void s_list_push(s_list_t *list, s_item_t *item)
{
    if (list->tail)
        list->tail->next = item;
    else
        list->head = item;
    list->tail = item;
}

//  Moves every item of from to the end of to.
static void s_list_append(s_list_t *to, s_list_t *from)
{
    if (!from->head)
        return;
    if (to->tail)
        to->tail->next = from->head;
    else
        to->head = from->head;
    to->tail = from->tail;
    from->head = from->tail = NULL;
}

static s_item_t *s_list_pop(s_list_t *list)
{
    s_item_t *item = list->head;
    if (item) {
        list->head = item->next;
        if (!list->head)
            list->tail = NULL;
        item->next = NULL;
    }
    return item;
}

//  The thread and the loop hand items over in lists, not one by one: each
//  takes the lock once per chunk (the reader) or per batch (the loop), not
//  once per message, and items are reused rather than allocated per
//  message (at 100,000 messages a second, allocating, zeroing and freeing
//  them, with the pages the reader's malloc arena gave back and faulted in
//  again, was a quarter of the reader's time).
struct _zb_intake_t {
    zsock_t *sub;              // read by the thread only, while it runs
    pthread_t reader;          // the thread
    atomic_bool stopping;      // destroy asked the thread to end
    bool keyed;                // CURVE: each message's sender key is read (User-Id)
    int efd;                   // eventfd: non-zero while items are held
    pthread_mutex_t lock;      // guards the shared part below
    s_list_t small;            // held small messages, oldest first, not yet the loop's
    s_list_t large;            // held large ones
    atomic_bool small_waiting; // small is not empty (read without the lock)
    atomic_bool large_waiting; // large is not empty
    s_list_t spare;            // items the loop is done with, for the reader
    size_t spare_count;
    size_t small_held; // bytes held of small messages (the loop's not yet taken too)
    size_t large_held; // ...of large ones
    size_t small_max;  // budgets
    size_t large_max;
    zb_intake_stats_t stats; // counters
    uint64_t unlogged;       // drops not logged yet
    int64_t log_mono;        // when drops were last logged

    //  The reader's alone.
    s_list_t reader_spare;

    //  The loop's alone: held items moved over in a batch, and what it took
    //  of them since, subtracted from the held bytes at the next batch.
    s_list_t mine_small, mine_large;
    bool large_turn; // take a large one next, when there is one
    size_t small_done, large_done;
    s_list_t mine_spare;
    size_t mine_spare_count;
    int64_t late_awake; // the reader's last wake when the loop found it late
    int64_t late_mono;  // ...and when the loop found it so
};

static void s_item_destroy(s_item_t **item_p)
{
    s_item_t *item = *item_p;
    if (!item)
        return;
    for (int i = 0; i < item->count && i < 2; i++)
        zmq_msg_close(&item->frames[i]);
    free(item);
    *item_p = NULL;
}

static void s_list_destroy(s_list_t *list)
{
    s_item_t *item;
    while ((item = s_list_pop(list)))
        s_item_destroy(&item);
}

//  Frees what list holds of items with no frames left (spares).
static void s_spares_free(s_list_t *list)
{
    s_item_t *item;
    while ((item = s_list_pop(list)))
        free(item);
}

//  Closes the item's frames; the item goes to spare for reuse, or is freed
//  when spare already has S_SPARE (count NULL: spare is unbounded).
static void s_item_recycle(s_item_t *item, s_list_t *spare, size_t *count)
{
    for (int i = 0; i < item->count && i < 2; i++)
        zmq_msg_close(&item->frames[i]);
    item->count = 0;
    if (count && *count >= S_SPARE) {
        free(item);
        return;
    }
    s_list_push(spare, item);
    if (count)
        ++*count;
}

//  Reads one whole message without waiting; NULL when none is waiting (or
//  out of memory: then the message is consumed and lost).
static s_item_t *s_item_recv(zb_intake_t *self, void *sock)
{
    zmq_msg_t frames[2];
    int count = zb_msg_recv_frames(sock, ZMQ_DONTWAIT, frames);
    if (count == 0)
        return NULL;
    s_item_t *item = s_list_pop(&self->reader_spare);
    if (!item)
        item = malloc(sizeof(*item));
    if (!item) {
        for (int i = 0; i < count && i < 2; i++)
            zmq_msg_close(&frames[i]);
        return NULL;
    }
    item->next = NULL;
    item->count = count;
    item->bytes = sizeof(*item);
    for (int i = 0; i < count && i < 2; i++) {
        item->frames[i] = frames[i];
        item->bytes += zmq_msg_size(&frames[i]);
    }
    //  Only a CURVE connection has a key; the lookup is not free.
    const char *user_id = self->keyed ? zmq_msg_gets(&item->frames[0], "User-Id") : NULL;
    size_t len = user_id ? strnlen(user_id, sizeof(item->user_id) - 1) : 0;
    memcpy(item->user_id, user_id ? user_id : "", len);
    item->user_id[len] = '\0';
    item->large = count > 1 && zmq_msg_size(&item->frames[1]) > ZB_INTAKE_SMALL_FRAME;
    return item;
}

//  Holds the item, or drops it when its budget is spent (returns false:
//  the caller recycles it outside the lock). Under the lock.
static bool s_hold_one(zb_intake_t *self, s_item_t *item)
{
    self->stats.taken++;
    size_t *held = item->large ? &self->large_held : &self->small_held;
    size_t max = item->large ? self->large_max : self->small_max;
    if (*held + item->bytes > max) {
        self->stats.dropped++;
        self->stats.dropped_bytes += item->bytes;
        self->unlogged++;
        int64_t now = zb_time_mono_ms();
        self->stats.dropped_mono = now;
        if (!self->log_mono || now - self->log_mono >= S_LOG_MS) {
            zb_log_warning("input: dropped %" PRIu64 " %s messages that did not fit in the %zu "
                           "bytes held (%" PRIu64 " in all): a peer floods the monitor?",
                           self->unlogged, item->large ? "large" : "small", max,
                           self->stats.dropped);
            self->log_mono = now;
            self->unlogged = 0;
        }
        return false;
    }
    *held += item->bytes;
    self->stats.held_bytes = self->small_held + self->large_held;
    if (!self->small.head && !self->large.head) {
        //  Readable from now on: the loop takes until none is left.
        uint64_t one = 1;
        if (write(self->efd, &one, sizeof(one)) != sizeof(one))
            zb_log_error("input: cannot wake the loop: %s", strerror(errno));
    }
    s_list_push(item->large ? &self->large : &self->small, item);
    atomic_store_explicit(item->large ? &self->large_waiting : &self->small_waiting, true,
                          memory_order_relaxed);
    return true;
}

//  Holds the chunk read, in order, or drops what does not fit; takes the
//  loop's spare items when the reader has none left.
static void s_hold(zb_intake_t *self, s_list_t *chunk)
{
    s_list_t dropped = {NULL, NULL};
    pthread_mutex_lock(&self->lock);
    s_item_t *item;
    while ((item = s_list_pop(chunk)))
        if (!s_hold_one(self, item))
            s_list_push(&dropped, item);
    if (!self->reader_spare.head) {
        s_list_append(&self->reader_spare, &self->spare);
        self->spare_count = 0;
    }
    pthread_mutex_unlock(&self->lock);
    while ((item = s_list_pop(&dropped)))
        s_item_recycle(item, &self->reader_spare, NULL);
}

//  Each time the reader wakes. Later than its poll can sleep by
//  S_STALL_MS, the whole process stood still (SIGSTOP, a paused VM, a swap
//  storm): what hosts sent meanwhile waits unread in the kernel and
//  ZeroMQ, and counts as lost input, as drops do (stats.stalled_mono).
static void s_wake(zb_intake_t *self)
{
    int64_t now = zb_time_mono_ms();
    pthread_mutex_lock(&self->lock);
    int64_t idle = self->stats.awake_mono ? now - self->stats.awake_mono : 0;
    bool stalled = idle > S_LATE_MS;
    if (stalled) {
        self->stats.stalls++;
        self->stats.stalled_mono = now;
    }
    self->stats.awake_mono = now;
    self->stats.stuck = false;
    pthread_mutex_unlock(&self->lock);
    if (stalled)
        zb_log_warning("input: not read for %" PRId64 " ms (the monitor stood still?): no host is "
                       "judged silent on what came meanwhile",
                       idle);
}

//  The reader takes input in rounds while it comes fast (zb_pace: one
//  wake-up a round instead of three a message: ZeroMQ's I/O thread
//  signals this one, which signals the loop). A message arriving while the
//  reader sleeps out a round waits at most ZB_PACE_ROUND_US (1 ms); on a
//  fleet that was quiet over the last window (under 5,000 messages a
//  second) none is held, so a lone event goes to the loop as it arrives.
static void *s_reader(void *arg)
{
    zb_intake_t *self = arg;
    pthread_setname_np(pthread_self(), "zbeat-input"); // for top -H, perf, and the tests
    void *sock = zsock_resolve(self->sub);
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    zb_pace_t pace;
    zb_pace_init(&pace);
    while (!atomic_load(&self->stopping)) {
        if (zmq_poll(&item, 1, S_POLL_MS) < 0) {
            if (zmq_errno() == ETERM)
                break;
            continue; // EINTR
        }
        s_wake(self);
        int64_t round_start = zb_time_mono_us();
        int taken = 0, chunked = 0;
        s_list_t chunk = {NULL, NULL};
        for (; taken < S_BATCH; taken++) {
            s_item_t *msg = s_item_recv(self, sock);
            if (!msg)
                break;
            msg->read_ms = round_start / 1000;
            s_list_push(&chunk, msg);
            //  Held in chunks: the loop may start on the first while this
            //  thread reads the rest of a round.
            if (++chunked == S_CHUNK) {
                s_hold(self, &chunk);
                chunked = 0;
            }
        }
        if (chunked)
            s_hold(self, &chunk);
        zb_pace_round(&pace, taken, round_start);
    }
    return NULL;
}

zb_intake_t *zb_intake_new(zsock_t *sub, size_t small_bytes, size_t large_bytes)
{
    assert(sub);
    zb_intake_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->sub = sub;
    self->keyed = zsock_mechanism(sub) == ZMQ_CURVE;
    self->small_max = small_bytes ? small_bytes : ZB_INTAKE_SMALL_BYTES;
    self->large_max = large_bytes ? large_bytes : ZB_INTAKE_LARGE_BYTES;
    atomic_init(&self->stopping, false);
    atomic_init(&self->small_waiting, false);
    atomic_init(&self->large_waiting, false);
    pthread_mutex_init(&self->lock, NULL);
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    //  Signals are the loop's (its thread stops it): the reader blocks them.
    sigset_t block, old;
    sigfillset(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = self->efd < 0 ? -1 : pthread_create(&self->reader, NULL, s_reader, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        if (self->efd >= 0)
            close(self->efd);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void zb_intake_destroy(zb_intake_t **self_p)
{
    assert(self_p);
    zb_intake_t *self = *self_p;
    if (!self)
        return;
    atomic_store(&self->stopping, true);
    pthread_join(self->reader, NULL);
    s_list_destroy(&self->small);
    s_list_destroy(&self->large);
    s_list_destroy(&self->mine_small);
    s_list_destroy(&self->mine_large);
    s_spares_free(&self->spare);
    s_spares_free(&self->reader_spare);
    s_spares_free(&self->mine_spare);
    close(self->efd);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int zb_intake_fd(zb_intake_t *self)
{
    assert(self);
    return self->efd;
}

//  The loop's batch: what it took since the last batch leaves the held
//  bytes, every held item becomes the loop's, its spare items go to the
//  reader. With nothing held anywhere, the descriptor is cleared (the
//  reader's next hold sets it again: both under the lock).
static void s_batch(zb_intake_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->small_held -= self->small_done;
    self->large_held -= self->large_done;
    self->small_done = self->large_done = 0;
    self->stats.held_bytes = self->small_held + self->large_held;
    s_list_append(&self->mine_small, &self->small);
    s_list_append(&self->mine_large, &self->large);
    atomic_store_explicit(&self->small_waiting, false, memory_order_relaxed);
    atomic_store_explicit(&self->large_waiting, false, memory_order_relaxed);
    if (!self->spare.head) {
        s_list_append(&self->spare, &self->mine_spare);
        self->spare_count = self->mine_spare_count;
        self->mine_spare_count = 0;
    }
    if (!self->mine_small.head && !self->mine_large.head) {
        //  Nothing left: not readable until the reader holds another.
        uint64_t count;
        if (read(self->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
            zb_log_error("input: %s", strerror(errno));
    }
    pthread_mutex_unlock(&self->lock);
}

//  The next item, small and large in turn: a flood of large frames delays a
//  small message (an event) by one large one at most, and a flood of small
//  ones cannot starve large beats. (An agent's large beat may so come after
//  its next event: the monitor counts it stale; the beat after repairs its
//  snapshot.) What the reader holds counts as soon as the kind whose turn
//  it is has run out in the loop's batch.
static s_item_t *s_pick(zb_intake_t *self)
{
    s_list_t *turn = self->large_turn ? &self->mine_large : &self->mine_small;
    s_list_t *other = self->large_turn ? &self->mine_small : &self->mine_large;
    atomic_bool *waiting = self->large_turn ? &self->large_waiting : &self->small_waiting;
    if (!turn->head && (!other->head || atomic_load_explicit(waiting, memory_order_relaxed)))
        s_batch(self);
    s_item_t *item = s_list_pop(turn);
    return item ? item : s_list_pop(other);
}

int zb_intake_take(zb_intake_t *self, zb_msg_t **msg_p, char *user_id, size_t user_id_size,
                   char *err, size_t errsize)
{
    assert(self && msg_p && err);
    *msg_p = NULL;
    s_item_t *item = s_pick(self);
    if (!item) {
        snprintf(err, errsize, "nothing waiting");
        return -2;
    }
    self->large_turn = !item->large;
    *(item->large ? &self->large_done : &self->small_done) += item->bytes;
    if (user_id && user_id_size) {
        size_t len = strnlen(item->user_id, user_id_size - 1);
        memcpy(user_id, item->user_id, len);
        user_id[len] = '\0';
    }
    int rc = -1;
    if (item->count != 2)
        snprintf(err, errsize, "expected 2 frames, got %d", item->count);
    else {
        *msg_p = zb_msg_decode(zmq_msg_data(&item->frames[0]), zmq_msg_size(&item->frames[0]),
                               zmq_msg_data(&item->frames[1]), zmq_msg_size(&item->frames[1]), err,
                               errsize);
        rc = *msg_p ? 0 : -1;
    }
    s_item_recycle(item, &self->mine_spare, &self->mine_spare_count);
    //  The last of the batch: the next, or the descriptor cleared.
    if (!self->mine_small.head && !self->mine_large.head)
        s_batch(self);
    return rc;
}

//  The older of a kind's two lists' heads: the loop's batch is older than
//  what the reader held since. Under the lock.
static int64_t s_oldest(const s_list_t *mine, const s_list_t *held)
{
    const s_item_t *item = mine->head ? mine->head : held->head;
    return item ? item->read_ms : INT64_MAX;
}

//  zb_intake_seen, under the lock.
static int64_t s_seen(zb_intake_t *self, int64_t now_mono, int64_t *lost_mono)
{
    *lost_mono = self->stats.dropped_mono > self->stats.stalled_mono ? self->stats.dropped_mono
                                                                     : self->stats.stalled_mono;
    int64_t small = s_oldest(&self->mine_small, &self->small);
    int64_t large = s_oldest(&self->mine_large, &self->large);
    int64_t seen = small < large ? small : large;
    //  The reader late to wake: the process stood still, and the reader
    //  will count it as such (s_wake) once it runs. Then it runs at once;
    //  if the loop has run S_STUCK_MS since it found the reader late, the
    //  reader itself is stuck, and holding silences back any longer would
    //  hide every host that dies (/healthz reports it: stats.stuck).
    int64_t awake = self->stats.awake_mono;
    if (awake && now_mono - awake > S_LATE_MS) {
        if (self->late_awake != awake) {
            self->late_awake = awake;
            self->late_mono = now_mono;
        }
        self->stats.stuck = now_mono - self->late_mono > S_STUCK_MS;
        if (!self->stats.stuck && awake < seen)
            seen = awake;
    }
    return seen;
}

int64_t zb_intake_seen(zb_intake_t *self, int64_t now_mono, int64_t *lost_mono)
{
    assert(self && lost_mono);
    pthread_mutex_lock(&self->lock);
    int64_t seen = s_seen(self, now_mono, lost_mono);
    pthread_mutex_unlock(&self->lock);
    return seen;
}

void zb_intake_stats(zb_intake_t *self, zb_intake_stats_t *stats)
{
    assert(self && stats);
    pthread_mutex_lock(&self->lock);
    *stats = self->stats;
    pthread_mutex_unlock(&self->lock);
}

//  --------------------------------------------------------------------------
//  Self-test: a real PUB and SUB over tcp.

//  zb_intake_seen now, without what was lost.
static int64_t s_seen_now(zb_intake_t *self)
{
    int64_t lost;
    return zb_intake_seen(self, zb_time_mono_ms(), &lost);
}

//  Waits (polling the descriptor) until n more messages were taken by the
//  reader, or fails after 5 s.
static void s_wait_taken(zb_intake_t *self, uint64_t n)
{
    int64_t until = zb_time_mono_ms() + 5000;
    zb_intake_stats_t stats;
    do {
        zb_intake_stats(self, &stats);
        if (stats.taken >= n)
            return;
        zclock_sleep(5);
    } while (zb_time_mono_ms() < until);
    assert(false);
}

void zb_intake_test(bool verbose)
{
    (void)verbose;
    assert(zb_intake_frame_max(100) == 100 * ZB_INTAKE_SERVICE_BYTES + ZB_INTAKE_ENVELOPE_BYTES);
    assert(zb_intake_frame_max(ZB_INTAKE_SERVICES_DEFAULT) == ZB_PROTO_MAX_BYTES);
    assert(zb_intake_queue(ZB_PROTO_MAX_BYTES) == ZB_INTAKE_QUEUE_MIN);
    assert(zb_intake_queue(1024) == 65536);
    assert(zb_intake_queue(1) == ZB_INTAKE_QUEUE_MAX);
    assert(zb_intake_queue((size_t)1 << 40) == ZB_INTAKE_QUEUE_MIN);

    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert(sub);
    zsock_set_subscribe(sub, "");
    int port = zsock_bind(sub, "tcp://127.0.0.1:*");
    assert(port > 0);
    //  Room for one large message only (plus its bookkeeping).
    zb_intake_t *intake = zb_intake_new(sub, 0, ZB_INTAKE_SMALL_FRAME * 3 / 2 + 4096);
    assert(intake);
    //  An XPUB hears the subscription, which arrives once the reader polls
    //  (NOTES-zeromq): nothing is sent before.
    zsock_t *pub = zsock_new(ZMQ_XPUB);
    assert(pub);
    //  No limit on its send queue: a PUB drops at its high-water mark, and
    //  what it knows the other end has read lags (libzmq tells it every
    //  half high-water mark, seen when the socket next processes commands),
    //  so two bursts of 500 met the default 1,000 and lost a tail, about one
    //  run in sixty.
    zsock_set_sndhwm(pub, 0);
    assert(zsock_connect(pub, "tcp://127.0.0.1:%d", port) == 0);
    zsock_set_rcvtimeo(pub, 5000);
    zframe_t *subscription = zframe_recv(pub);
    assert(subscription && zframe_size(subscription) == 1 && zframe_data(subscription)[0] == 1);
    zframe_destroy(&subscription);
    char err[256], user_id[64];
    zb_msg_t *msg = NULL;
    assert(zb_intake_take(intake, &msg, user_id, sizeof(user_id), err, sizeof(err)) == -2);
    assert(s_seen_now(intake) == INT64_MAX);
    int64_t sent_ms = zb_time_mono_ms();
    const char *event =
        "{\"v\":1,\"type\":\"event\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
        "\"seq\":1,\"time_ms\":1,\"service\":\"s\",\"from\":\"up\",\"to\":\"down\","
        "\"at_ms\":1}";
    for (int i = 0; i < 3; i++) {
        zstr_sendm(pub, "event.h");
        zstr_send(pub, event);
    }
    s_wait_taken(intake, 3);
    //  Held since the reader took them: after they were sent, not later than now.
    int64_t oldest = s_seen_now(intake);
    assert(oldest >= sent_ms && oldest <= zb_time_mono_ms());
    zb_intake_stats_t stats;
    zb_intake_stats(intake, &stats);
    //  The descriptor is readable while something is held.
    zmq_pollitem_t item = {NULL, zb_intake_fd(intake), ZMQ_POLLIN, 0};
    assert(zmq_poll(&item, 1, 0) == 1);
    int taken = 0;
    while (zb_intake_take(intake, &msg, user_id, sizeof(user_id), err, sizeof(err)) == 0) {
        assert(msg && strcmp(user_id, "") == 0);
        zb_msg_destroy(&msg);
        taken++;
    }
    assert(taken == 3);
    assert(zmq_poll(&item, 1, 0) == 0);
    assert(s_seen_now(intake) == INT64_MAX);

    //  Many: more than a chunk and than the spares kept, taken in the
    //  order sent while the reader holds more; the items the loop is done
    //  with are reused.
    for (int round = 0; round < 6; round++) {
        for (int i = 1; i <= 500; i++) {
            char text[512];
            snprintf(text, sizeof(text),
                     "{\"v\":1,\"type\":\"event\",\"host\":\"h\",\"instance\":"
                     "\"0123456789abcdef\",\"seq\":%d,\"time_ms\":1,\"service\":\"s\","
                     "\"from\":\"up\",\"to\":\"down\",\"at_ms\":1}",
                     i);
            zstr_sendm(pub, "event.h");
            zstr_send(pub, text);
        }
        int64_t until = zb_time_mono_ms() + 5000;
        for (uint64_t next = 1; next <= 500;) {
            int rc = zb_intake_take(intake, &msg, user_id, sizeof(user_id), err, sizeof(err));
            if (rc == -2) {
                assert(zb_time_mono_ms() < until);
                zclock_sleep(1);
                continue;
            }
            assert(rc == 0 && msg->seq == next);
            zb_msg_destroy(&msg);
            next++;
        }
        assert(zb_intake_take(intake, &msg, NULL, 0, err, sizeof(err)) == -2);
        assert(zmq_poll(&item, 1, 0) == 0);
    }
    zb_intake_stats(intake, &stats);
    assert(stats.held_bytes == 0 && stats.dropped == 0 && stats.dropped_mono == 0);

    //  Two large frames and a small one: the second large one does not fit
    //  and is dropped; the small one has its own room.
    size_t big = ZB_INTAKE_SMALL_FRAME + 1;
    char *junk = malloc(big + 1);
    assert(junk);
    memset(junk, 'x', big);
    junk[big] = '\0';
    zstr_sendm(pub, "beat.h");
    zstr_send(pub, junk);
    zstr_sendm(pub, "beat.h");
    zstr_send(pub, junk);
    zstr_sendm(pub, "event.h");
    zstr_send(pub, event);
    zstr_send(pub, "one frame");
    s_wait_taken(intake, stats.taken + 4);
    zb_intake_stats(intake, &stats);
    assert(stats.dropped == 1 && stats.dropped_bytes > big);
    assert(stats.dropped_mono > 0 && stats.dropped_mono <= zb_time_mono_ms());
    //  Small and large in turn, the last taken being small: the large one
    //  (junk JSON), then the small ones in order.
    assert(zb_intake_take(intake, &msg, NULL, 0, err, sizeof(err)) == -1);
    assert(!strstr(err, "frames"));
    assert(zb_intake_take(intake, &msg, NULL, 0, err, sizeof(err)) == 0);
    zb_msg_destroy(&msg);
    assert(zb_intake_take(intake, &msg, NULL, 0, err, sizeof(err)) == -1);
    assert(strstr(err, "expected 2 frames, got 1"));
    assert(zb_intake_take(intake, &msg, NULL, 0, err, sizeof(err)) == -2);
    zb_intake_stats(intake, &stats);
    assert(stats.held_bytes == 0);
    free(junk);

    //  The reader woken later than it can sleep: the process stood still.
    //  Until it wakes, the loop has seen input only up to its last wake;
    //  from then on what came meanwhile counts as lost.
    int64_t lost, now = zb_time_mono_ms();
    assert(zb_intake_seen(intake, now, &lost) == INT64_MAX && lost == stats.dropped_mono);
    pthread_mutex_lock(&intake->lock);
    int64_t awake = intake->stats.awake_mono;
    intake->stats.awake_mono -= S_LATE_MS + 500; // as if asleep since
    assert(s_seen(intake, now, &lost) == awake - S_LATE_MS - 500);
    //  Still late after the loop has run S_STUCK_MS: the reader is stuck,
    //  not the process stopped, and silences are no longer held back.
    assert(s_seen(intake, now + S_STUCK_MS, &lost) == awake - S_LATE_MS - 500);
    assert(!intake->stats.stuck);
    assert(s_seen(intake, now + S_STUCK_MS + 1, &lost) == INT64_MAX);
    assert(intake->stats.stuck);
    pthread_mutex_unlock(&intake->lock);
    int64_t until = zb_time_mono_ms() + 5000;
    for (zb_intake_stats(intake, &stats); stats.stalls == 0; zb_intake_stats(intake, &stats)) {
        assert(zb_time_mono_ms() < until);
        zclock_sleep(1);
    }
    assert(stats.stalls == 1 && stats.stalled_mono >= now && !stats.stuck);
    assert(zb_intake_seen(intake, zb_time_mono_ms(), &lost) == INT64_MAX);
    assert(lost == stats.stalled_mono);
    zsock_destroy(&pub);
    zb_intake_destroy(&intake);
    zb_intake_destroy(&intake);
    zsock_destroy(&sub);
}
