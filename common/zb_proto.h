/*  zb_proto: wire protocol v1 between agents and monitors (docs/protocol.md).

    A message is two ZeroMQ frames: a topic ("beat.<host>", "event.<host>")
    and a JSON document. The pieces, each depending only on those before it:
    zb_msg.h, the message (zb_msg_t) and its limits; zb_proto_decode.h, the
    strict decoder; this file, the encoder and sending and receiving over
    ZeroMQ. Including this header gives all three, so agents, monitors and
    tests agree on one definition.

    The decoder never trusts its input: every length, count and name is
    bounded and checked, unknown fields are ignored (so later versions can add
    fields), and anything malformed yields NULL plus a message, never a crash.
*/
#ifndef ZB_PROTO_H
#define ZB_PROTO_H

#include "zb_msg.h"
#include "zb_proto_decode.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

//  Encodes into a topic and a JSON text, both heap strings the caller frees.
//  Over-long error texts are truncated. Returns 0, or -1 with *err set.
int zb_msg_encode(const zb_msg_t *self, char **topic_p, char **json_p, char *err, size_t errsize);

//  A beat's services one at a time: returns the status of service `index`
//  (0 to count - 1), valid until the next call.
typedef const zb_service_status_t *(zb_msg_service_fn)(void *arg, size_t index);

//  Encodes a beat whose `count` services come from fn(arg, i) instead of
//  self->services, which is ignored. The header is encoded first and each
//  service on its own, appended to one buffer, so that the peak is one
//  service's jansson document, not one for all of them, and the caller
//  needs no copy of every status. The text is the same as zb_msg_encode
//  makes (which encodes beats this way). *json_p is NUL-terminated and
//  *json_len_p (may be NULL) gets its length. Returns 0, or -1 with *err
//  set (more than ZB_PROTO_MAX_SERVICES, too large, out of memory).
int zb_msg_encode_beat(const zb_msg_t *self, size_t count, zb_msg_service_fn *fn, void *arg,
                       char **topic_p, char **json_p, size_t *json_len_p, char *err,
                       size_t errsize);

//  Like zb_msg_send for such a beat; the JSON frame goes to ZeroMQ without
//  a copy.
int zb_msg_send_beat(const zb_msg_t *self, size_t count, zb_msg_service_fn *fn, void *arg,
                     void *zsock);

//  Sends the message as two frames without blocking. Returns 0 when handed
//  to ZeroMQ, -1 when the socket would block (HWM) or encoding failed.
int zb_msg_send(const zb_msg_t *self, void *zsock);

//  Receives one multipart message from a czmq socket and decodes it.
//  Returns 0 with *msg_p set; -1 with a reason in err when the message was
//  malformed (it is consumed and dropped); -2 when nothing could be read
//  (interrupted, or nothing waiting with ZMQ_DONTWAIT semantics).
int zb_msg_recv(void *zsock, zb_msg_t **msg_p, char *err, size_t errsize);

//  Reads one whole message from a libzmq socket (every frame, so that a
//  malformed one is consumed whole) and keeps its first two frames in
//  frames, which the caller closes (the first min(count, 2)). Returns the
//  number of frames; 0 when none could be read (errno says why: EAGAIN
//  with ZMQ_DONTWAIT when none is waiting).
int zb_msg_recv_frames(void *handle, int flags, zmq_msg_t frames[2]);

//  Like zb_msg_recv but never blocks: returns -2 when no message is waiting.
int zb_msg_recv_nowait(void *zsock, zb_msg_t **msg_p, char *err, size_t errsize);

//  Like zb_msg_recv_nowait, and also copies the connection's "User-Id"
//  (the CURVE key a ZAP handler admitted, Z85) into user_id, "" when none.
//  It is set whenever a message was read, malformed or not.
int zb_msg_recv_nowait_user(void *zsock, zb_msg_t **msg_p, char *user_id, size_t user_id_size,
                            char *err, size_t errsize);

void zb_proto_test(bool verbose);

#endif
