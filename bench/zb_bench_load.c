/*  zb-bench-load: many simulated agents publishing protocol v1 (or v2's
    thin beats, --full-every) to one
    endpoint, paced like real agents (docs/benchmarks.md, item 3).

    Every simulated agent (a "host") sends one beat per interval listing its
    services (with --full-every N > 1: a thin beat, only the digest of the
    table, except on a change and every N-th beat); hosts are spread evenly over the interval, as
   independent agents would be. Options add a burst (every service of every host goes down at once,
   as events, and later beats say so) and markers (events of a separate host, printed with their
   send time, so the runner can time how far behind the receiver is).

    Messages are encoded once per host with zb_msg_encode and only the
    numbers that change (seq, time_ms, at_ms) are rewritten per send: the
    generator must be much cheaper than the monitor it loads, on a machine
    where both share two cores. The first message of every template is
    decoded back with zb_msg_decode, so a mismatch with the protocol fails
    at start, not silently in the results.

    stdout, one line each (times are CLOCK_MONOTONIC microseconds, the clock
    of Python's time.monotonic()):
        ready <mono_us>                     subscriptions arrived, sending starts
        progress <mono_us> <messages>       every 100 ms
        burst <start_us> <end_us> <events>  the burst was handed to ZeroMQ
        marker <n> <mono_us>                marker n is about to be sent
        group <k> sent=N                    with --groups: beats per group
        done sent=N beats=N events=N late_max_us=N elapsed_us=N

    --groups K names host i "<prefix><i % K>-<i / K>" (s0-000000,
    s1-000000, ...): one generator for K shards' hosts (relay_shards.py), so
    the load costs one process's wake-ups, not K.
*/
#include "zb_proto.h"
#include "zb_time.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_HOLES 3 // seq, time_ms, at_ms
#define S_PROGRESS_US 100000
#define S_SUBSCRIBE_TIMEOUT_MS 10000

//  Values that cannot occur otherwise, searched for in the encoded JSON.
static const int64_t s_sentinel[S_HOLES] = {9000000000000000001LL, 9000000000000000002LL,
                                            9000000000000000003LL};

//  An encoded message with holes where numbers change per send.
typedef struct {
    char *topic;
    size_t topic_len;
    char *piece[S_HOLES + 1]; // text around the holes, in order
    size_t piece_len[S_HOLES + 1];
    int hole[S_HOLES]; // which value goes in each hole (0 seq, 1 time, 2 at)
    int holes;         // number of holes found
} s_template_t;

typedef struct {
    char name[ZB_NAME_MAX + 1];
    char instance[ZB_INSTANCE_LEN + 1];
    uint64_t seq;
    s_template_t beat;    // current beat (up, or down after the burst)
    s_template_t thin;    // its thin form (--full-every > 1)
    bool changed;         // the table changed: the next beat is full
    s_template_t *events; // burst events, one per service; NULL without burst
    bool down;            // after the burst
} s_host_t;

typedef struct {
    const char *endpoint;
    int agents;
    int services;
    int64_t interval_us;
    int64_t duration_us;
    int sockets;
    int64_t burst_at_us; // from start; -1: no burst
    int64_t marker_us;   // marker period; 0: none
    const char *prefix;
    int full_every;        // > 1: thin beats (protocol v2) between full ones
    int64_t ramp_us;       // hosts start one after another over this long (0: all at once)
    int64_t silence_at_us; // from start: every silence_every-th host stops; -1: never
    int silence_every;
    int groups; // > 0: hosts named per group (see the head of the file); 0: not given
} s_options_t;

static void s_template_free(s_template_t *t)
{
    free(t->topic);
    for (int i = 0; i <= S_HOLES; i++)
        free(t->piece[i]);
    memset(t, 0, sizeof(*t));
}

//  Splits the encoded message at the sentinels it contains.
static int s_template_make(s_template_t *t, const zb_msg_t *msg)
{
    char *topic = NULL, *json = NULL, err[256];
    memset(t, 0, sizeof(*t));
    if (zb_msg_encode(msg, &topic, &json, err, sizeof(err)) != 0) {
        fprintf(stderr, "zb-bench-load: encode: %s\n", err);
        return -1;
    }
    t->topic = topic;
    t->topic_len = strlen(topic);
    //  Find every sentinel, then order them by position.
    const char *pos[S_HOLES] = {NULL};
    char text[32];
    for (int i = 0; i < S_HOLES; i++) {
        snprintf(text, sizeof(text), "%" PRId64, s_sentinel[i]);
        pos[i] = strstr(json, text);
    }
    const char *cursor = json;
    for (;;) {
        int next = -1;
        for (int i = 0; i < S_HOLES; i++)
            if (pos[i] && pos[i] >= cursor && (next < 0 || pos[i] < pos[next]))
                next = i;
        size_t len = next < 0 ? strlen(cursor) : (size_t)(pos[next] - cursor);
        t->piece[t->holes] = strndup(cursor, len);
        t->piece_len[t->holes] = len;
        if (next < 0)
            break;
        t->hole[t->holes++] = next;
        snprintf(text, sizeof(text), "%" PRId64, s_sentinel[next]);
        cursor = pos[next] + strlen(text);
    }
    free(json);
    return 0;
}

//  Fills the holes into buf; returns the length.
static size_t s_template_fill(const s_template_t *t, const int64_t values[S_HOLES], char *buf,
                              size_t size)
{
    size_t len = 0;
    for (int i = 0; i <= t->holes; i++) {
        if (len + t->piece_len[i] + 24 > size)
            return 0;
        memcpy(buf + len, t->piece[i], t->piece_len[i]);
        len += t->piece_len[i];
        if (i < t->holes)
            len += (size_t)snprintf(buf + len, size - len, "%" PRId64, values[t->hole[i]]);
    }
    return len;
}

//  Decodes one filled template: what we send must be what the protocol says.
static int s_template_check(const s_template_t *t, const char *buf, size_t len, uint64_t seq)
{
    char err[256];
    zb_msg_t *msg = zb_msg_decode(t->topic, t->topic_len, buf, len, err, sizeof(err));
    if (!msg || msg->seq != seq) {
        fprintf(stderr, "zb-bench-load: generated message does not decode: %s\n",
                msg ? "wrong seq" : err);
        zb_msg_destroy(&msg);
        return -1;
    }
    zb_msg_destroy(&msg);
    return 0;
}

//  The beat's full and thin templates, each with the digest of its table
//  as a real agent computes it (full_every > 1), or the v1 full beat alone.
static int s_beat_templates(s_host_t *host, zb_msg_t *msg, int full_every)
{
    if (full_every > 1) {
        msg->has_digest = true;
        msg->digest = ZB_MSG_DIGEST_INIT;
        for (size_t i = 0; i < msg->service_count; i++)
            msg->digest = zb_msg_digest_add(msg->digest, &msg->services[i]);
    }
    if (s_template_make(&host->beat, msg) != 0)
        return -1;
    if (full_every <= 1)
        return 0;
    msg->thin = true;
    return s_template_make(&host->thin, msg);
}

//  interval_ms is the beat interval the host announces: the monitor's
//  liveness is a multiple of it, so it must be the one the load keeps.
static zb_msg_t *s_beat_msg(const s_host_t *host, int services, int64_t interval_ms,
                            zb_state_t state, int64_t since)
{
    zb_msg_t *msg = zb_msg_new(ZB_MSG_BEAT);
    if (!msg)
        return NULL;
    snprintf(msg->host, sizeof(msg->host), "%s", host->name);
    snprintf(msg->instance, sizeof(msg->instance), "%s", host->instance);
    msg->seq = (uint64_t)s_sentinel[0];
    msg->time_ms = s_sentinel[1];
    msg->interval_ms = interval_ms;
    for (int i = 0; i < services; i++) {
        zb_service_status_t status = {.state = state, .since_ms = since, .rtt_us = 250};
        snprintf(status.name, sizeof(status.name), "svc-%d", i);
        snprintf(status.kind, sizeof(status.kind), "probe");
        snprintf(status.reason, sizeof(status.reason), "%s",
                 state == ZB_STATE_DOWN ? "refused" : "ok");
        if (state == ZB_STATE_DOWN)
            snprintf(status.error, sizeof(status.error), "connect: Connection refused");
        if (zb_msg_add_service(msg, &status) != 0) {
            zb_msg_destroy(&msg);
            return NULL;
        }
    }
    return msg;
}

static zb_msg_t *s_event_msg(const char *host, const char *instance, const char *service)
{
    zb_msg_t *msg = zb_msg_new(ZB_MSG_EVENT);
    if (!msg)
        return NULL;
    snprintf(msg->host, sizeof(msg->host), "%s", host);
    snprintf(msg->instance, sizeof(msg->instance), "%s", instance);
    snprintf(msg->service, sizeof(msg->service), "%s", service);
    msg->seq = (uint64_t)s_sentinel[0];
    msg->time_ms = s_sentinel[1];
    msg->at_ms = s_sentinel[2];
    msg->from = ZB_STATE_UP;
    msg->to = ZB_STATE_DOWN;
    snprintf(msg->reason, sizeof(msg->reason), "refused");
    snprintf(msg->error, sizeof(msg->error), "connect: Connection refused");
    return msg;
}

static void s_instance(char *buf)
{
    for (int i = 0; i < ZB_INSTANCE_LEN; i++)
        buf[i] = "0123456789abcdef"[rand() % 16];
    buf[ZB_INSTANCE_LEN] = '\0';
}

//  Sends one message from a template with the next seq. Returns 0 or -1.
static int s_send(void *sock, const s_template_t *t, uint64_t seq, int64_t at_ms, char *buf,
                  size_t size, bool check)
{
    int64_t values[S_HOLES] = {(int64_t)seq, zb_time_wall_ms(), at_ms};
    size_t len = s_template_fill(t, values, buf, size);
    if (len == 0 || (check && s_template_check(t, buf, len, seq) != 0))
        return -1;
    if (zmq_send(sock, t->topic, t->topic_len, ZMQ_SNDMORE) < 0 || zmq_send(sock, buf, len, 0) < 0)
        return -1;
    return 0;
}

//  A marker: an event of its own host, one new service each, so every
//  marker opens one outage row the runner can wait for.
static void s_marker(s_host_t *host, zsock_t *sock, int n)
{
    char service[32];
    snprintf(service, sizeof(service), "m%d", n);
    zb_msg_t *msg = s_event_msg(host->name, host->instance, service);
    if (!msg)
        return;
    msg->seq = ++host->seq;
    msg->time_ms = msg->at_ms = zb_time_wall_ms();
    printf("marker %d %" PRId64 "\n", n, zb_time_mono_us());
    fflush(stdout);
    if (zb_msg_send(msg, sock) != 0)
        fprintf(stderr, "zb-bench-load: marker %d not sent\n", n);
    zb_msg_destroy(&msg);
}

static void s_sleep_until(int64_t due_us)
{
    int64_t now = zb_time_mono_us();
    if (due_us - now < 200)
        return;
    struct timespec ts = {.tv_sec = due_us / 1000000, .tv_nsec = (due_us % 1000000) * 1000};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

//  XPUB instead of PUB: it hands us the subscriptions (all of them, with
//  XPUB_VERBOSE), so nothing is sent, and lost, before every receiver has
//  subscribed.
static int s_wait_subscribed(zsock_t **socks, int count, int peers)
{
    int64_t deadline = zb_time_mono_ms() + S_SUBSCRIBE_TIMEOUT_MS;
    for (int i = 0; i < count; i++) {
        zsock_set_rcvtimeo(socks[i], 100);
        for (int got = 0; got < peers;) {
            char byte[256];
            if (zmq_recv(zsock_resolve(socks[i]), byte, sizeof(byte), 0) >= 1 && byte[0] == 1)
                got++;
            else if (zsys_interrupted || zb_time_mono_ms() > deadline) {
                fprintf(stderr, "zb-bench-load: %d of %d subscriptions after %d ms\n", got, peers,
                        S_SUBSCRIBE_TIMEOUT_MS);
                return -1;
            }
        }
    }
    return 0;
}

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: zb-bench-load --endpoint EP[,EP...] [--agents M] [--services S] [--interval-ms I]\n"
        "       [--duration-ms D] [--sockets K] [--burst-at-ms T] [--marker-ms P]\n"
        "       [--prefix NAME] [--full-every N] [--ramp-ms R]\n"
        "       [--silence-at-ms T [--silence-every K]] [--groups K]\n");
}

static int s_parse(int argc, char **argv, s_options_t *o)
{
    *o = (s_options_t){.agents = 100,
                       .services = 20,
                       .interval_us = 1000000,
                       .duration_us = 10000000,
                       .sockets = 0,
                       .burst_at_us = -1,
                       .prefix = "load",
                       .full_every = 1,
                       .silence_at_us = -1,
                       .silence_every = 10,
                       .groups = 0};
    static const struct option longs[] = {{"endpoint", required_argument, NULL, 'e'},
                                          {"agents", required_argument, NULL, 'm'},
                                          {"services", required_argument, NULL, 's'},
                                          {"interval-ms", required_argument, NULL, 'i'},
                                          {"duration-ms", required_argument, NULL, 'd'},
                                          {"sockets", required_argument, NULL, 'k'},
                                          {"burst-at-ms", required_argument, NULL, 'b'},
                                          {"marker-ms", required_argument, NULL, 'p'},
                                          {"prefix", required_argument, NULL, 'x'},
                                          {"full-every", required_argument, NULL, 'f'},
                                          {"ramp-ms", required_argument, NULL, 'r'},
                                          {"silence-at-ms", required_argument, NULL, 'S'},
                                          {"silence-every", required_argument, NULL, 'K'},
                                          {"groups", required_argument, NULL, 'g'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        long long v = optarg ? atoll(optarg) : 0;
        switch (c) {
        case 'e':
            o->endpoint = optarg;
            break;
        case 'm':
            o->agents = (int)v;
            break;
        case 's':
            o->services = (int)v;
            break;
        case 'i':
            o->interval_us = v * 1000;
            break;
        case 'd':
            o->duration_us = v * 1000;
            break;
        case 'k':
            o->sockets = (int)v;
            break;
        case 'b':
            o->burst_at_us = v * 1000;
            break;
        case 'p':
            o->marker_us = v * 1000;
            break;
        case 'x':
            o->prefix = optarg;
            break;
        case 'f':
            o->full_every = (int)v;
            break;
        case 'r':
            o->ramp_us = v * 1000;
            break;
        case 'S':
            o->silence_at_us = v * 1000;
            break;
        case 'K':
            o->silence_every = (int)v;
            break;
        case 'g':
            o->groups = (int)v;
            break;
        case 'h':
            s_usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (!o->endpoint || o->agents < 1 || o->services < 0 || o->services > 1000 ||
        o->interval_us < 1000 || o->duration_us < 0 || o->full_every < 1 || o->ramp_us < 0 ||
        o->silence_every < 1 || o->groups < 0 || o->groups > 1000)
        return -1;
    if (o->sockets <= 0 || o->sockets > o->agents)
        o->sockets = o->agents < 100 ? o->agents : 100;
    return 0;
}

int main(int argc, char **argv)
{
    s_options_t o;
    if (s_parse(argc, argv, &o) != 0) {
        s_usage(stderr);
        return 2;
    }
    int rc = 1;
    srand((unsigned)zb_time_mono_us());
    zsys_init();
    s_host_t *hosts = calloc((size_t)o.agents, sizeof(*hosts));
    zsock_t **socks = calloc((size_t)o.sockets, sizeof(*socks));
    size_t bufsize = (size_t)o.services * 512 + 4096;
    char *buf = malloc(bufsize);
    s_host_t marker_host = {.seq = 0};
    uint64_t sent = 0, beats = 0, events = 0;
    uint64_t *group_sent = calloc((size_t)(o.groups > 0 ? o.groups : 1), sizeof(*group_sent));
    int peers = 0;
    if (!hosts || !socks || !buf || !group_sent)
        goto done;

    for (int i = 0; i < o.agents; i++) {
        s_host_t *host = &hosts[i];
        if (o.groups > 0)
            snprintf(host->name, sizeof(host->name), "%s%d-%06d", o.prefix, i % o.groups,
                     i / o.groups);
        else
            snprintf(host->name, sizeof(host->name), "%s-%05d", o.prefix, i);
        s_instance(host->instance);
        host->changed = true; // an agent's first beat is full
        zb_msg_t *msg =
            s_beat_msg(host, o.services, o.interval_us / 1000, ZB_STATE_UP, zb_time_wall_ms());
        int made = msg ? s_beat_templates(host, msg, o.full_every) : -1;
        zb_msg_destroy(&msg);
        if (made != 0)
            goto done;
        if (o.burst_at_us >= 0) {
            host->events = calloc((size_t)o.services, sizeof(*host->events));
            if (!host->events)
                goto done;
            for (int s = 0; s < o.services; s++) {
                char service[32];
                snprintf(service, sizeof(service), "svc-%d", s);
                msg = s_event_msg(host->name, host->instance, service);
                made = msg ? s_template_make(&host->events[s], msg) : -1;
                zb_msg_destroy(&msg);
                if (made != 0)
                    goto done;
            }
        }
    }
    snprintf(marker_host.name, sizeof(marker_host.name), "bench-marker");
    s_instance(marker_host.instance);

    for (int i = 0; i < o.sockets; i++) {
        socks[i] = zsock_new(ZMQ_XPUB);
        if (!socks[i])
            goto done;
        //  Deep enough that a slow receiver, not this generator, drops: the
        //  receiver's RCVHWM decides, as with real agents.
        zsock_set_sndhwm(socks[i], 100000);
        zsock_set_linger(socks[i], 5000);
        zsock_set_xpub_verbose(socks[i], 1);
        //  Every socket connects to every endpoint: a PUB fans each message
        //  out to all, so receivers measured side by side get the same load.
        char *list = strdup(o.endpoint), *save = NULL;
        peers = 0;
        for (char *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
            if (zsock_connect(socks[i], "%s", ep) != 0) {
                fprintf(stderr, "zb-bench-load: cannot connect %s\n", ep);
                free(list);
                goto done;
            }
            peers++;
        }
        free(list);
    }
    if (s_wait_subscribed(socks, o.sockets, peers) != 0)
        goto done;

    int64_t start = zb_time_mono_us();
    int64_t end = start + o.duration_us;
    int64_t next_progress = start, next_marker = o.marker_us ? start + o.marker_us : INT64_MAX;
    int64_t late_max = 0;
    int64_t burst_at = o.burst_at_us >= 0 ? start + o.burst_at_us : INT64_MAX;
    int64_t silence_at = o.silence_at_us >= 0 ? start + o.silence_at_us : INT64_MAX;
    bool silenced = false;
    int markers = 0;
    printf("ready %" PRId64 "\n", start);
    fflush(stdout);
    for (int64_t round = 0; !zsys_interrupted; round++) {
        int64_t round_start = start + round * o.interval_us;
        if (round_start >= end)
            break;
        for (int i = 0; i < o.agents && !zsys_interrupted; i++) {
            int64_t due = round_start + (int64_t)i * o.interval_us / o.agents;
            if (due >= end)
                break;
            s_sleep_until(due);
            int64_t now = zb_time_mono_us();
            if (now - due > late_max)
                late_max = now - due;
            s_host_t *host = &hosts[i];
            //  Not started yet: a fleet joins over the ramp, as a new
            //  monitor's hosts would, not all in one second.
            if (o.ramp_us && due < start + (int64_t)i * o.ramp_us / o.agents)
                continue;
            //  The storm: every silence_every-th host stops at once.
            if (!silenced && now >= silence_at) {
                silenced = true;
                printf("silence %" PRId64 " %d\n", now,
                       (o.agents + o.silence_every - 1) / o.silence_every);
                fflush(stdout);
            }
            if (silenced && i % o.silence_every == 0)
                continue;
            void *sock = zsock_resolve(socks[i % o.sockets]);
            //  Full on a change and every full_every beats, the hosts' full
            //  beats spread over the rounds as independent agents' are.
            bool full = o.full_every <= 1 || host->changed || (round + i) % o.full_every == 0;
            host->changed = false;
            if (s_send(sock, full ? &host->beat : &host->thin, ++host->seq, 0, buf, bufsize,
                       round == 0 || (i == 0 && round <= o.full_every)) != 0) {
                fprintf(stderr, "zb-bench-load: send failed: %s\n", zmq_strerror(errno));
                goto done;
            }
            sent++;
            if (o.groups > 0)
                group_sent[i % o.groups]++;
            beats += (uint64_t)o.services;
            if (now >= burst_at) {
                //  Every service of every host at once, as fast as we can.
                burst_at = INT64_MAX;
                int64_t burst_start = zb_time_mono_us(), wall = zb_time_wall_ms();
                for (int h = 0; h < o.agents; h++) {
                    void *hs = zsock_resolve(socks[h % o.sockets]);
                    for (int s = 0; s < o.services; s++) {
                        if (s_send(hs, &hosts[h].events[s], ++hosts[h].seq, wall, buf, bufsize,
                                   h == 0 && s == 0) != 0)
                            goto done;
                        sent++;
                        events++;
                    }
                }
                printf("burst %" PRId64 " %" PRId64 " %" PRIu64 "\n", burst_start,
                       zb_time_mono_us(), events);
                fflush(stdout);
                //  Later beats agree, or they would end the outages at once.
                for (int h = 0; h < o.agents; h++) {
                    zb_msg_t *msg = s_beat_msg(&hosts[h], o.services, o.interval_us / 1000,
                                               ZB_STATE_DOWN, wall);
                    s_template_free(&hosts[h].beat);
                    s_template_free(&hosts[h].thin);
                    hosts[h].changed = true;
                    int made = msg ? s_beat_templates(&hosts[h], msg, o.full_every) : -1;
                    zb_msg_destroy(&msg);
                    if (made != 0)
                        goto done;
                }
            }
            if (now >= next_marker) {
                next_marker += o.marker_us;
                s_marker(&marker_host, socks[0], markers++);
                sent++;
            }
            if (now >= next_progress) {
                next_progress += S_PROGRESS_US;
                printf("progress %" PRId64 " %" PRIu64 "\n", now, sent);
                fflush(stdout);
            }
        }
    }
    if (o.marker_us) {
        //  One after the last beat: its lag is the backlog left at the end.
        s_marker(&marker_host, socks[0], markers++);
        sent++;
    }
    printf("progress %" PRId64 " %" PRIu64 "\n", zb_time_mono_us(), sent);
    for (int g = 0; g < o.groups; g++)
        printf("group %d sent=%" PRIu64 "\n", g, group_sent[g]);
    printf("done sent=%" PRIu64 " beats=%" PRIu64 " events=%" PRIu64 " late_max_us=%" PRId64
           " elapsed_us=%" PRId64 "\n",
           sent, beats, events, late_max, zb_time_mono_us() - start);
    fflush(stdout);
    rc = 0;
done:
    for (int i = 0; socks && i < o.sockets; i++)
        zsock_destroy(&socks[i]);
    for (int i = 0; hosts && i < o.agents; i++) {
        s_template_free(&hosts[i].beat);
        s_template_free(&hosts[i].thin);
        for (int s = 0; hosts[i].events && s < o.services; s++)
            s_template_free(&hosts[i].events[s]);
        free(hosts[i].events);
    }
    free(hosts);
    free(group_sent);
    free(socks);
    free(buf);
    return rc;
}
