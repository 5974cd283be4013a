/*  libFuzzer harness for the wire decoder. Input: topic, "\n", JSON.
    Beyond "never crashes": whatever decodes must encode and decode again to
    the same message, so the decoder accepts nothing the encoder cannot say. */
#include "zb_proto.h"

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
    zb_msg_t *msg = zb_msg_decode(data, topic_len, json, json_len, err, sizeof(err));
    if (!msg)
        return 0;
    char *topic, *text;
    int rc = zb_msg_encode(msg, &topic, &text, err, sizeof(err));
    assert(rc == 0);
    zb_msg_t *again = zb_msg_decode(topic, strlen(topic), text, strlen(text), err, sizeof(err));
    assert(again);
    assert(again->type == msg->type && again->seq == msg->seq);
    assert(again->service_count == msg->service_count);
    assert(strcmp(again->host, msg->host) == 0);
    zb_msg_destroy(&again);
    free(topic);
    free(text);
    zb_msg_destroy(&msg);
    return 0;
}
