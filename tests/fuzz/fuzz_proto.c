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
    //  Every field: the decoder fills them itself now (no tree), so a slip
    //  in one of them shows here.
    assert(again->type == msg->type && again->seq == msg->seq);
    assert(again->time_ms == msg->time_ms && again->interval_ms == msg->interval_ms);
    assert(again->dropped == msg->dropped && again->at_ms == msg->at_ms);
    assert(again->from == msg->from && again->to == msg->to);
    assert(strcmp(again->host, msg->host) == 0 && strcmp(again->instance, msg->instance) == 0);
    assert(strcmp(again->service, msg->service) == 0 && strcmp(again->reason, msg->reason) == 0);
    assert(strcmp(again->error, msg->error) == 0);
    assert(again->service_count == msg->service_count);
    for (size_t i = 0; i < msg->service_count; i++) {
        const zb_service_status_t *a = &msg->services[i], *b = &again->services[i];
        assert(strcmp(a->name, b->name) == 0 && strcmp(a->kind, b->kind) == 0);
        assert(a->state == b->state && a->since_ms == b->since_ms && a->rtt_us == b->rtt_us);
        assert(strcmp(a->reason, b->reason) == 0 && strcmp(a->error, b->error) == 0);
    }
    zb_msg_destroy(&again);
    free(topic);
    free(text);
    zb_msg_destroy(&msg);
    return 0;
}
