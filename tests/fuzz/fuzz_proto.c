/*  libFuzzer harness for the wire decoder. Input: topic, "\n", JSON.
    Beyond "never crashes": whatever decodes must encode and decode again to
    the same message, so the decoder accepts nothing the encoder cannot say. */
#include "zb_proto.h"
#include "zb_proto_thin.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = memchr(data, '\n', size);
    size_t topic_len = split ? (size_t)(split - data) : 0;
    const uint8_t *json = split ? split + 1 : data;
    size_t json_len = size - (size_t)(json - data);
    char err[256];
    zb_msg_t *msg = zb_msg_decode_general(data, topic_len, json, json_len, err, sizeof(err));
    //  The thin beat's fast path takes a subset of what the general decoder
    //  takes, into the same message.
    zb_msg_t *fast = zb_msg_decode_thin(data, topic_len, json, json_len);
    assert(!fast || (msg && zb_msg_same(fast, msg)));
    zb_msg_destroy(&fast);
    if (!msg)
        return 0;
    char *topic, *text;
    int rc = zb_msg_encode(msg, &topic, &text, err, sizeof(err));
    assert(rc == 0);
    zb_msg_t *again = zb_msg_decode(topic, strlen(topic), text, strlen(text), err, sizeof(err));
    //  Every field: the decoder fills them itself (no tree), so a slip in
    //  one of them shows here.
    assert(again && zb_msg_same(again, msg));
    //  And the encoder's thin beats are all the fast path's.
    fast = zb_msg_decode_thin(topic, strlen(topic), text, strlen(text));
    assert(!msg->thin == !fast);
    zb_msg_destroy(&fast);
    zb_msg_destroy(&again);
    free(topic);
    free(text);
    zb_msg_destroy(&msg);
    return 0;
}
