/*  zb_proto_thin: thin beats read fast.

    At fleet scale almost every message a monitor receives is a thin beat
    (protocol v2: the header and a digest, about 170 bytes). The general
    decoder (zb_proto_decode: yajl's callbacks plus the strictness jansson
    had) spends about 0.8 us on one; most of it is the machinery of JSON in
    general, which this text does not need. zb_msg_decode_thin reads the
    exact text zb_msg_encode_beat writes for a thin beat, byte by byte, and
    declines anything else (whitespace, another key order, an escape, a
    number with a leading zero or more than 19 digits, a missing digest),
    which then goes to the general decoder. Whatever it accepts, the general
    decoder accepts too, into the same message: the protocol's self-test and
    the wire fuzzer (tests/fuzz/fuzz_proto.c) hold it to that.
*/
#ifndef ZB_PROTO_THIN_H
#define ZB_PROTO_THIN_H

#include "zb_msg.h"

#include <stddef.h>

//  A new message, or NULL when the text is not a thin beat in the encoder's
//  own form (or memory ran out): no error, the general decoder decides.
zb_msg_t *zb_msg_decode_thin(const void *topic, size_t topic_len, const void *json,
                             size_t json_len);

#endif
