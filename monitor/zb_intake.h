/*  zb_intake: how much agents' input the monitor may hold, in bytes.

    ZeroMQ bounds a SUB socket's queue in messages (RCVHWM), one queue per
    connected peer, and a frame's size (MAXMSGSIZE; a peer sending a larger
    one is disconnected). A queue of 100,000 messages of 4 MiB is 400 GB:
    a peer flooding large frames could swell the monitor to gigabytes. So
    the frame limit comes from what an agent may really send (its services,
    each entry at most ZB_INTAKE_SERVICE_BYTES of JSON, plus the envelope),
    and the queue holds at most ZB_INTAKE_QUEUE_BYTES of such frames per
    peer. Small messages beyond the queue wait in TCP buffers (ZeroMQ stops
    reading a peer whose queue is full), not in the monitor's memory.
*/
#ifndef ZB_INTAKE_H
#define ZB_INTAKE_H

#include "zb_proto.h"

#include <stddef.h>

#define ZB_INTAKE_SERVICES_DEFAULT 8192 // the agent's own limit (ZB_AGENT_MAX_SERVICES)
#define ZB_INTAKE_SERVICES_MAX ZB_PROTO_MAX_SERVICES
#define ZB_INTAKE_SERVICE_BYTES 512              // one service of a beat, as JSON
#define ZB_INTAKE_ENVELOPE_BYTES (64 * 1024)     // a beat's other fields, an event
#define ZB_INTAKE_QUEUE_BYTES (64 * 1024 * 1024) // queued frames per connected peer
#define ZB_INTAKE_QUEUE_MIN 8                    // messages, however large the frames
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

#endif
