/*  zb_proto_decode: the strict decoder of wire protocol v1. It builds a
    zb_msg_t and needs nothing of the encoder or the sockets (zb_proto.h,
    which includes this header for its users).
*/
#ifndef ZB_PROTO_DECODE_H
#define ZB_PROTO_DECODE_H

#include "zb_msg.h"

#include <stddef.h>

//  Decodes one message; topic and json need not be NUL-terminated. Returns a
//  new message, or NULL with a one-line reason in err.
zb_msg_t *zb_msg_decode(const void *topic, size_t topic_len, const void *json, size_t json_len,
                        char *err, size_t errsize);

//  The general decoder alone: zb_msg_decode tries the thin beat's fast path
//  (zb_proto_thin.h) first, and this when it declines. For the tests that
//  hold the two to the same result.
zb_msg_t *zb_msg_decode_general(const void *topic, size_t topic_len, const void *json,
                                size_t json_len, char *err, size_t errsize);

#endif
