/*  zb-netem: a userspace netem for the fault suite (issue 11), for kernels
    without sch_netem.

    It forwards IP packets between two TUN devices, both ways, dropping each
    one with probability --loss and holding each survivor for --delay plus a
    uniform jitter in [-jitter, +jitter] (clamped at 0), as `tc netem loss P%
    delay D J` does: packets leave at their due time, so jitter reorders them,
    as netem's does. Due packets wait in a bounded min-heap (--limit per
    direction, like netem's limit); a packet that does not fit is dropped and
    counted as overflow. The RNG is seeded (--seed), so a run's loss and delay
    sequence is reproducible for the same packet arrivals.

    tests/faults/netns.py puts it in a host's path: a router namespace whose
    policy routing sends what arrives from the host into DEV_A and what
    arrives from the monitor into DEV_B; what the tool writes into the other
    device is forwarded on by the kernel.

    stdout: one "forwarding ..." line once both devices are attached; on
    SIGUSR1 and at exit (SIGINT/SIGTERM) a line
    "counts a_in=N a_lost=N a_overflow=N a_out=N a_errors=N b_in=... queued=N",
    where a_ counts packets read from DEV_A (sent on to DEV_B) and b_ the
    reverse; queued packets are discarded at exit.

    zb-netem --selftest checks the heap and the distributions without a TUN.
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h> // before linux/if_tun.h: glibc's ifreq, if_nametoindex
#include <linux/if_tun.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define S_PACKET_MAX 65536 // an IP packet cannot be larger
#define S_READ_BATCH 256   // reads per device per pass, so one busy side cannot starve the other
#define S_DELAY_MAX_MS 60000
#define S_LIMIT_MAX 1000000

typedef struct {
    int64_t due_ns;      // monotonic time to write it out
    uint64_t order;      // arrival number: equal due times leave in arrival order
    int side;            // device it was read from; it leaves by the other one
    size_t size;         // bytes in data
    unsigned char *data; // the packet, owned
} s_packet_t;

typedef struct {
    uint64_t in;       // packets read from this side
    uint64_t lost;     // dropped by --loss
    uint64_t overflow; // dropped because this direction's queue was full
    uint64_t out;      // written to the other side
    uint64_t errors;   // writes the kernel refused
    size_t queued;     // in the heap now
} s_counts_t;

typedef struct {
    double loss;           // probability of a drop, 0..1
    int64_t delay_ns;      // mean delay
    int64_t jitter_ns;     // delay varies uniformly by +- this
    size_t limit;          // queued packets per direction
    uint64_t rng;          // splitmix64 state
    const char *dev[2];    // DEV_A, DEV_B
    int fd[2];             // their TUN descriptors
    s_packet_t *heap;      // min-heap on (due_ns, order), 2 x limit slots
    size_t heap_count;     // packets in it
    uint64_t arrivals;     // next order number
    s_counts_t counts[2];  // by the side a packet was read from
    unsigned char *buffer; // one read
} s_netem_t;

static int64_t s_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

//  splitmix64: small, good enough for loss and jitter, and the same sequence
//  on every libc for a given seed.
static uint64_t s_random(s_netem_t *self)
{
    uint64_t z = (self->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

//  Uniform in [0, 1).
static double s_uniform(s_netem_t *self)
{
    return (double)(s_random(self) >> 11) * 0x1.0p-53;
}

static bool s_earlier(const s_packet_t *a, const s_packet_t *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->order < b->order);
}

static void s_heap_push(s_netem_t *self, s_packet_t packet)
{
    size_t i = self->heap_count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_earlier(&packet, &self->heap[parent]))
            break;
        self->heap[i] = self->heap[parent];
        i = parent;
    }
    self->heap[i] = packet;
}

static s_packet_t s_heap_pop(s_netem_t *self)
{
    s_packet_t top = self->heap[0];
    s_packet_t last = self->heap[--self->heap_count];
    size_t i = 0, n = self->heap_count;
    while (n > 0) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && s_earlier(&self->heap[child + 1], &self->heap[child]))
            child++;
        if (!s_earlier(&self->heap[child], &last))
            break;
        self->heap[i] = self->heap[child];
        i = child;
    }
    if (n > 0)
        self->heap[i] = last;
    return top;
}

static void s_netem_destroy(s_netem_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_netem_t *self = *self_p;
    while (self->heap_count > 0) {
        s_packet_t packet = s_heap_pop(self);
        free(packet.data);
    }
    for (int side = 0; side < 2; side++) {
        if (self->fd[side] >= 0)
            close(self->fd[side]);
    }
    free(self->heap);
    free(self->buffer);
    free(self);
    *self_p = NULL;
}

static s_netem_t *s_netem_new(double loss_pct, double delay_ms, double jitter_ms, size_t limit,
                              uint64_t seed)
{
    s_netem_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->fd[0] = self->fd[1] = -1;
    self->loss = loss_pct / 100.0;
    self->delay_ns = (int64_t)llround(delay_ms * 1e6);
    self->jitter_ns = (int64_t)llround(jitter_ms * 1e6);
    self->limit = limit;
    self->rng = seed;
    self->heap = calloc(2 * limit, sizeof(*self->heap));
    self->buffer = malloc(S_PACKET_MAX);
    if (!self->heap || !self->buffer)
        s_netem_destroy(&self);
    return self;
}

//  Attaches to an existing TUN device (made by `ip tuntap add ... mode tun`),
//  without the packet-information header: every read is one IP packet.
static int s_netem_attach(s_netem_t *self, int side, const char *name, char *err, size_t errlen)
{
    struct ifreq ifr;
    int fd = -1;
    if (strlen(name) >= IFNAMSIZ) {
        snprintf(err, errlen, "%s: not a device name (at most %d characters)", name, IFNAMSIZ - 1);
        goto fail;
    }
    //  TUNSETIFF would make a new device of a name that does not exist: a
    //  typo would then forward nothing, silently, in whatever namespace.
    if (if_nametoindex(name) == 0) {
        snprintf(err, errlen, "%s: no such device (make it with ip tuntap add dev %s mode tun)",
                 name, name);
        goto fail;
    }
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
        goto fail;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        snprintf(err, errlen, "%s: cannot attach to the TUN device: %s", name, strerror(errno));
        goto fail;
    }
    self->dev[side] = name;
    self->fd[side] = fd;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

//  A packet read from `side`: lost, dropped for lack of room, or queued
//  until its due time.
static void s_netem_accept(s_netem_t *self, int side, const unsigned char *data, size_t size,
                           int64_t now_ns)
{
    s_counts_t *counts = &self->counts[side];
    counts->in++;
    //  Both draws are made for every packet, so the delays of the survivors
    //  do not depend on which earlier packets were lost.
    double lose = s_uniform(self);
    double spread = s_uniform(self) * 2.0 - 1.0;
    if (lose < self->loss) {
        counts->lost++;
        return;
    }
    if (counts->queued >= self->limit) {
        counts->overflow++;
        return;
    }
    int64_t delay = self->delay_ns + (int64_t)llround(spread * (double)self->jitter_ns);
    if (delay < 0)
        delay = 0;
    s_packet_t packet = {.due_ns = now_ns + delay,
                         .order = self->arrivals++,
                         .side = side,
                         .size = size,
                         .data = malloc(size ? size : 1)};
    if (!packet.data) {
        counts->overflow++;
        return;
    }
    memcpy(packet.data, data, size);
    counts->queued++;
    s_heap_push(self, packet);
}

//  Writes out every packet due by now_ns.
static void s_netem_release(s_netem_t *self, int64_t now_ns)
{
    while (self->heap_count > 0 && self->heap[0].due_ns <= now_ns) {
        s_packet_t packet = s_heap_pop(self);
        s_counts_t *counts = &self->counts[packet.side];
        counts->queued--;
        int fd = self->fd[1 - packet.side];
        //  A TUN write injects one packet into the stack and does not block;
        //  a refusal (device down, malformed packet) loses that packet only.
        if (fd < 0 || write(fd, packet.data, packet.size) != (ssize_t)packet.size)
            counts->errors++;
        else
            counts->out++;
        free(packet.data);
    }
}

//  Reads what is waiting on one device, at most one batch.
static int s_netem_read(s_netem_t *self, int side, char *err, size_t errlen)
{
    for (int i = 0; i < S_READ_BATCH; i++) {
        ssize_t got = read(self->fd[side], self->buffer, S_PACKET_MAX);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            snprintf(err, errlen, "%s: read: %s", self->dev[side], strerror(errno));
            return -1;
        }
        s_netem_accept(self, side, self->buffer, (size_t)got, s_mono_ns());
    }
    return 0;
}

static void s_netem_print(const s_netem_t *self)
{
    const s_counts_t *a = &self->counts[0], *b = &self->counts[1];
    printf("counts a_in=%" PRIu64 " a_lost=%" PRIu64 " a_overflow=%" PRIu64 " a_out=%" PRIu64
           " a_errors=%" PRIu64 " b_in=%" PRIu64 " b_lost=%" PRIu64 " b_overflow=%" PRIu64
           " b_out=%" PRIu64 " b_errors=%" PRIu64 " queued=%zu\n",
           a->in, a->lost, a->overflow, a->out, a->errors, b->in, b->lost, b->overflow, b->out,
           b->errors, self->heap_count);
    fflush(stdout);
}

//  The timer fires at the earliest due time; disarmed when nothing waits.
static void s_netem_arm(const s_netem_t *self, int timer)
{
    struct itimerspec spec;
    memset(&spec, 0, sizeof(spec));
    if (self->heap_count > 0) {
        int64_t due = self->heap[0].due_ns;
        if (due <= 0)
            due = 1; // zero would disarm it
        spec.it_value.tv_sec = due / 1000000000;
        spec.it_value.tv_nsec = due % 1000000000;
    }
    timerfd_settime(timer, TFD_TIMER_ABSTIME, &spec, NULL);
}

static int s_netem_run(s_netem_t *self, int sigfd, char *err, size_t errlen)
{
    int rc = -1;
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epoll < 0 || timer < 0) {
        snprintf(err, errlen, "epoll/timerfd: %s", strerror(errno));
        goto done;
    }
    //  Tags: 0 and 1 the devices, 2 the timer, 3 the signals.
    int fds[4] = {self->fd[0], self->fd[1], timer, sigfd};
    for (uint64_t tag = 0; tag < 4; tag++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
        if (epoll_ctl(epoll, EPOLL_CTL_ADD, fds[tag], &ev) != 0) {
            snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
            goto done;
        }
    }
    for (;;) {
        struct epoll_event events[4];
        int n = epoll_wait(epoll, events, 4, -1);
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            goto done;
        }
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag < 2) {
                if (s_netem_read(self, (int)tag, err, errlen) != 0)
                    goto done;
            } else if (tag == 2) {
                //  Only wakes the loop: what is due is released below.
                uint64_t expirations;
                if (read(timer, &expirations, sizeof(expirations)) < 0)
                    expirations = 0;
            } else {
                struct signalfd_siginfo info;
                while (read(sigfd, &info, sizeof(info)) == sizeof(info)) {
                    s_netem_print(self);
                    if (info.ssi_signo != SIGUSR1) {
                        rc = 0;
                        goto done;
                    }
                }
            }
        }
        s_netem_release(self, s_mono_ns());
        s_netem_arm(self, timer);
    }
done:
    if (rc != 0)
        s_netem_print(self); // what got through before the failure
    if (timer >= 0)
        close(timer);
    if (epoll >= 0)
        close(epoll);
    return rc;
}

//  A number in [min, max], optionally followed by `suffix` (e.g. "10%",
//  "100ms", as tc writes them).
static int s_parse_number(const char *text, const char *suffix, double min, double max,
                          double *value)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno != 0 || !isfinite(v))
        return -1;
    if (*end && strcmp(end, suffix) != 0)
        return -1;
    if (v < min || v > max)
        return -1;
    *value = v;
    return 0;
}

static int s_parse_seed(const char *text, uint64_t *seed)
{
    char *end = NULL;
    errno = 0;
    if (*text == '-')
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end || errno != 0)
        return -1;
    *seed = (uint64_t)v;
    return 0;
}

//  Without a TUN: the heap releases in (due, arrival) order, loss and delay
//  follow their distributions, the limit holds. Returns the failures.
static int s_selftest(void)
{
    int failures = 0;
#define S_CHECK(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "zb-netem selftest: %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)
    const int n = 20000;
    s_netem_t *netem = s_netem_new(30, 100, 50, (size_t)n, 42);
    S_CHECK(netem);
    if (!netem)
        return failures;
    unsigned char byte = 0;
    for (int i = 0; i < n; i++)
        s_netem_accept(netem, i % 2, &byte, 1, 0);
    uint64_t lost = netem->counts[0].lost + netem->counts[1].lost;
    //  30% of 20000: 6000, standard deviation 65.
    S_CHECK(lost > 5600 && lost < 6400);
    S_CHECK(netem->heap_count == (size_t)n - lost);
    int64_t previous = -1, min = INT64_MAX, max = -1;
    uint64_t previous_order = 0;
    double sum = 0;
    size_t count = netem->heap_count;
    while (netem->heap_count > 0) {
        s_packet_t p = s_heap_pop(netem);
        S_CHECK(p.due_ns > previous || (p.due_ns == previous && p.order > previous_order));
        previous = p.due_ns;
        previous_order = p.order;
        min = p.due_ns < min ? p.due_ns : min;
        max = p.due_ns > max ? p.due_ns : max;
        sum += (double)p.due_ns;
        free(p.data);
    }
    //  Uniform on [50, 150] ms: the extremes near the ends, the mean 100 ms.
    S_CHECK(min >= 50000000 && min < 51000000);
    S_CHECK(max <= 150000000 && max > 149000000);
    S_CHECK(fabs(sum / (double)count - 100e6) < 2e6);
    netem->counts[0].queued = netem->counts[1].queued = 0;
    s_netem_destroy(&netem);
    S_CHECK(netem == NULL);

    //  The limit, per direction; nothing lost at 0%, no delay at 0.
    netem = s_netem_new(0, 0, 0, 3, 1);
    S_CHECK(netem);
    if (!netem)
        return failures;
    for (int i = 0; i < 5; i++)
        s_netem_accept(netem, 0, &byte, 1, 7);
    s_netem_accept(netem, 1, &byte, 1, 7);
    S_CHECK(netem->counts[0].overflow == 2 && netem->counts[0].queued == 3);
    S_CHECK(netem->counts[1].overflow == 0 && netem->counts[1].queued == 1);
    S_CHECK(netem->heap[0].due_ns == 7);
    //  Released to devices that are not attached: counted as errors.
    s_netem_release(netem, 7);
    S_CHECK(netem->heap_count == 0 && netem->counts[0].errors == 3);
    s_netem_destroy(&netem);
#undef S_CHECK
    printf("zb-netem selftest: %s\n", failures ? "FAILED" : "ok");
    return failures;
}

static void s_usage(FILE *out)
{
    fprintf(out, "usage: zb-netem [--loss PCT] [--delay MS] [--jitter MS] [--limit N] "
                 "[--seed N] DEV_A DEV_B\n"
                 "       zb-netem --selftest\n");
}

int main(int argc, char **argv)
{
    double loss = 0, delay = 0, jitter = 0, limit = 1000;
    uint64_t seed = 1;
    const char *dev[2] = {NULL, NULL};
    int devs = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(arg, "--selftest") == 0)
            return s_selftest() ? 1 : 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            s_usage(stdout);
            return 0;
        }
        if (arg[0] == '-' && arg[1] == '-' && !value) {
            fprintf(stderr, "zb-netem: %s needs a value\n", arg);
            return 2;
        }
        if (strcmp(arg, "--loss") == 0)
            bad = s_parse_number(value, "%", 0, 100, &loss);
        else if (strcmp(arg, "--delay") == 0)
            bad = s_parse_number(value, "ms", 0, S_DELAY_MAX_MS, &delay);
        else if (strcmp(arg, "--jitter") == 0)
            bad = s_parse_number(value, "ms", 0, S_DELAY_MAX_MS, &jitter);
        else if (strcmp(arg, "--limit") == 0)
            bad = s_parse_number(value, "", 1, S_LIMIT_MAX, &limit) || limit != floor(limit);
        else if (strcmp(arg, "--seed") == 0)
            bad = s_parse_seed(value, &seed);
        else if (arg[0] == '-') {
            fprintf(stderr, "zb-netem: %s: unknown option\n", arg);
            s_usage(stderr);
            return 2;
        } else {
            if (devs == 2) {
                fprintf(stderr, "zb-netem: %s: two devices only\n", arg);
                return 2;
            }
            dev[devs++] = arg;
            continue;
        }
        if (bad) {
            fprintf(stderr,
                    "zb-netem: %s: \"%s\" is out of range (--loss 0..100, --delay and --jitter "
                    "0..%d ms, --limit 1..%d, --seed a whole number)\n",
                    arg, value, S_DELAY_MAX_MS, S_LIMIT_MAX);
            return 2;
        }
        i++;
    }
    if (devs != 2) {
        s_usage(stderr);
        return 2;
    }
    if (strcmp(dev[0], dev[1]) == 0) {
        fprintf(stderr, "zb-netem: DEV_A and DEV_B must differ\n");
        return 2;
    }

    int rc = 1;
    char err[256] = "";
    int sigfd = -1;
    s_netem_t *netem = s_netem_new(loss, delay, jitter, (size_t)limit, seed);
    if (!netem) {
        snprintf(err, sizeof(err), "out of memory");
        goto done;
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0) {
        snprintf(err, sizeof(err), "signalfd: %s", strerror(errno));
        goto done;
    }
    for (int side = 0; side < 2; side++) {
        if (s_netem_attach(netem, side, dev[side], err, sizeof(err)) != 0)
            goto done;
    }
    printf("forwarding %s <-> %s: loss %g%% delay %gms jitter %gms limit %zu seed %" PRIu64 "\n",
           dev[0], dev[1], loss, delay, jitter, netem->limit, seed);
    fflush(stdout);
    if (s_netem_run(netem, sigfd, err, sizeof(err)) == 0)
        rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "zb-netem: %s\n", err[0] ? err : "failed");
    s_netem_destroy(&netem);
    if (sigfd >= 0)
        close(sigfd);
    return rc;
}
