/*  zb_intake: agents' input, read as it arrives and held in bounded bytes.

    ZeroMQ bounds a SUB socket's queue in messages (RCVHWM), one queue per
    connected peer, and a frame's size (MAXMSGSIZE; a peer sending a larger
    one is disconnected). A queue of 100,000 messages of 4 MiB is 400 GB: a
    peer flooding large frames swelled the monitor to gigabytes. Yet a
    small queue alone would stall every agent whenever the monitor stops
    reading (a database locked for seconds): its ZMTP heartbeats go
    unanswered and it drops the connection, with what it had queued.

    So a thread of its own reads the SUB socket all the time, and keeps the
    messages, undecoded, for the monitor's loop to take: at most
    ZB_INTAKE_SMALL_BYTES of frames up to ZB_INTAKE_SMALL_FRAME (events,
    beats of a few hundred services), and ZB_INTAKE_LARGE_BYTES of larger
    ones. A message that does not fit is dropped and counted: a flood of
    large frames can only crowd out other large frames, never the small
    ones real events travel in. The frame limit comes from what an agent
    may really send (its services, each at most ZB_INTAKE_SERVICE_BYTES of
    JSON, plus the envelope).

    ZeroMQ's own queue per peer (RCVHWM) is only the hand-over to the
    thread, which empties it far faster than a network fills it with large
    frames. It is sized to ZB_INTAKE_QUEUE_BYTES of frames of the frame
    limit, but never below ZB_INTAKE_QUEUE_MIN messages: a queue that fills
    stops ZeroMQ reading the peer, and libzmq 4.3.4 aborts the process when
    such a peer goes away with a heartbeat pending (issues 4364, 4767), so
    it must not fill with the small messages of a live agent.
*/
#ifndef ZB_INTAKE_H
#define ZB_INTAKE_H

#include "zb_proto.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#define ZB_INTAKE_SERVICES_DEFAULT 8192 // the agent's own limit (ZB_AGENT_MAX_SERVICES)
#define ZB_INTAKE_SERVICES_MAX ZB_PROTO_MAX_SERVICES
#define ZB_INTAKE_SERVICE_BYTES 512              // one service of a beat, as JSON
#define ZB_INTAKE_ENVELOPE_BYTES (64 * 1024)     // a beat's other fields, an event
#define ZB_INTAKE_QUEUE_BYTES (64 * 1024 * 1024) // ZeroMQ's queue per connected peer
#define ZB_INTAKE_SMALL_FRAME (64 * 1024)        // a small message's JSON, at most
#define ZB_INTAKE_SMALL_BYTES (64 * 1024 * 1024) // small messages held, in all
#define ZB_INTAKE_LARGE_BYTES (64 * 1024 * 1024) // large messages held, in all
#define ZB_INTAKE_QUEUE_MIN 1000                 // messages, however large the frames
#define ZB_INTAKE_QUEUE_MAX 100000               // messages, however small the frames

//  The largest frame an agent with max_services services may send.
static inline size_t zb_intake_frame_max(int max_services)
{
    size_t bytes = (size_t)max_services * ZB_INTAKE_SERVICE_BYTES + ZB_INTAKE_ENVELOPE_BYTES;
    //  The decoder refuses larger JSON anyway.
    return bytes < ZB_PROTO_MAX_BYTES ? bytes : ZB_PROTO_MAX_BYTES;
}

//  The receive high-water mark (messages per peer) that keeps frames of
//  frame_max within ZB_INTAKE_QUEUE_BYTES.
static inline int zb_intake_queue(size_t frame_max)
{
    size_t n = ZB_INTAKE_QUEUE_BYTES / frame_max;
    if (n < ZB_INTAKE_QUEUE_MIN)
        n = ZB_INTAKE_QUEUE_MIN;
    if (n > ZB_INTAKE_QUEUE_MAX)
        n = ZB_INTAKE_QUEUE_MAX;
    return (int)n;
}

typedef struct _zb_intake_t zb_intake_t;

typedef struct {
    uint64_t taken;         // messages read from the socket
    uint64_t dropped;       // messages dropped: no room left
    uint64_t dropped_bytes; // ...their bytes
    size_t held_bytes;      // bytes held now (both kinds; what the loop took counts until
                            // its next batch, at the latest when nothing is left)
    int64_t dropped_mono;   // when the last was dropped (monotonic ms), 0: none yet
    uint64_t stalls;        // times the process stood still, input unread (zb_intake_seen)
    int64_t stalled_mono;   // when the reader woke from the last (monotonic ms), 0: none
    int64_t awake_mono;     // when the reader last woke (monotonic ms): at least every 100 ms
    bool stuck;             // it has not since, and zb_intake_seen no longer waits for it
} zb_intake_stats_t;

//  Starts reading sub (bound and subscribed) in a thread of its own; from
//  then on only that thread uses the socket, until zb_intake_destroy.
//  small_bytes and large_bytes bound what is held (0: the defaults above).
//  NULL when the thread cannot start.
zb_intake_t *zb_intake_new(zsock_t *sub, size_t small_bytes, size_t large_bytes);

//  Stops the thread; the socket is the caller's again. What is held is lost.
void zb_intake_destroy(zb_intake_t **self_p);

//  A descriptor readable while messages are held (for zloop_poller).
int zb_intake_fd(zb_intake_t *self);

//  Takes and decodes the oldest message held, as zb_msg_recv_nowait_user:
//  0 with *msg_p, -1 malformed (reason in err), -2 none held.
int zb_intake_take(zb_intake_t *self, zb_msg_t **msg_p, char *user_id, size_t user_id_size,
                   char *err, size_t errsize);

//  Before when the loop has seen all input (monotonic ms): when the reader
//  took the oldest message still held (a round's messages share its
//  start), or when it last woke if that is later than it can sleep (the
//  process stood still; not once the loop has run 5 s since it found the
//  reader late: then the reader is stuck); INT64_MAX when neither holds
//  anything back.
//  *lost_mono: when input was last lost, dropped or left unread while the
//  process stood still (0: never); read at the same moment. The loop's.
int64_t zb_intake_seen(zb_intake_t *self, int64_t now_mono, int64_t *lost_mono);

void zb_intake_stats(zb_intake_t *self, zb_intake_stats_t *stats);

void zb_intake_test(bool verbose);

#endif
