/*  zb-bench-sub: the floor for monitor ingest (docs/benchmarks.md, item 3).

    A bare libzmq SUB loop: bind, subscribe to everything, receive messages
    and count them. With --decode it also runs zb_msg_decode on each (the
    monitor's first step), which splits the monitor's cost into "ZeroMQ",
    "decoding" and "everything else". Socket options match the monitor's
    (RCVHWM, maximum message size), so both drop at the same point.

    Runs until SIGINT/SIGTERM, then prints one line:
        messages=N bytes=N frames=N decode_errors=N
*/
#include "zb_proto.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_RCVHWM 100000 // as the monitor's ZB_MONITOR_RCVHWM

int main(int argc, char **argv)
{
    const char *bind = NULL;
    bool decode = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--decode") == 0)
            decode = true;
        else if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc)
            bind = argv[++i];
        else {
            fprintf(stderr, "usage: zb-bench-sub --bind ENDPOINT [--decode]\n");
            return 2;
        }
    }
    if (!bind) {
        fprintf(stderr, "usage: zb-bench-sub --bind ENDPOINT [--decode]\n");
        return 2;
    }
    zsys_init();
    zsock_t *sub = zsock_new(ZMQ_SUB);
    if (!sub)
        return 1;
    zsock_set_rcvhwm(sub, S_RCVHWM);
    zsock_set_maxmsgsize(sub, ZB_PROTO_MAX_BYTES + 64 * 1024);
    zsock_set_subscribe(sub, "");
    //  A timeout so an interrupt is seen even with nothing arriving; the
    //  recv call also processes the subscription commands (NOTES-zeromq).
    zsock_set_rcvtimeo(sub, 100);
    if (zsock_bind(sub, "%s", bind) == -1) {
        fprintf(stderr, "zb-bench-sub: cannot bind %s\n", bind);
        zsock_destroy(&sub);
        return 1;
    }
    printf("listening %s\n", zsock_endpoint(sub));
    fflush(stdout);
    void *handle = zsock_resolve(sub);
    uint64_t messages = 0, bytes = 0, frames = 0, decode_errors = 0;
    zmq_msg_t part[2];
    int parts = 0;
    while (!zsys_interrupted) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, handle, 0) < 0) {
            zmq_msg_close(&frame);
            continue;
        }
        frames++;
        bytes += zmq_msg_size(&frame);
        bool more = zmq_msg_more(&frame);
        if (decode && parts < 2) {
            zmq_msg_init(&part[parts]);
            zmq_msg_move(&part[parts++], &frame);
        }
        zmq_msg_close(&frame);
        if (more)
            continue;
        messages++;
        if (decode) {
            char err[256];
            zb_msg_t *msg = parts == 2
                                ? zb_msg_decode(zmq_msg_data(&part[0]), zmq_msg_size(&part[0]),
                                                zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), err,
                                                sizeof(err))
                                : NULL;
            if (!msg)
                decode_errors++;
            zb_msg_destroy(&msg);
            for (int i = 0; i < parts; i++)
                zmq_msg_close(&part[i]);
            parts = 0;
        }
    }
    printf("messages=%" PRIu64 " bytes=%" PRIu64 " frames=%" PRIu64 " decode_errors=%" PRIu64 "\n",
           messages, bytes, frames, decode_errors);
    fflush(stdout);
    zsock_destroy(&sub);
    return 0;
}
