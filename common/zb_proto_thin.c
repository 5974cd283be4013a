/*  zb_proto_thin: thin beats read fast. See zb_proto_thin.h. */
#include "zb_proto_thin.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

//  The text still to read.
typedef struct {
    const char *at;
    const char *end;
} s_text_t;

static bool s_literal(s_text_t *text, const char *literal, size_t len)
{
    if ((size_t)(text->end - text->at) < len || memcmp(text->at, literal, len) != 0)
        return false;
    text->at += len;
    return true;
}

#define S_LITERAL(text, literal) s_literal(text, literal, sizeof(literal) - 1)

//  An integer as jansson writes one that is in [min, max] (min >= 0): "0",
//  or up to 19 digits without a leading zero (19 digits always fit in 64
//  bits unsigned, and INT64_MAX has 19). A minus sign, a longer number or
//  one out of range is left to the general decoder, which says what is
//  wrong with it.
static bool s_integer(s_text_t *text, int64_t min, int64_t max, int64_t *value)
{
    const char *start = text->at;
    uint64_t n = 0;
    while (text->at < text->end && *text->at >= '0' && *text->at <= '9' && text->at - start < 20)
        n = n * 10 + (uint64_t)(*text->at++ - '0');
    size_t digits = (size_t)(text->at - start);
    if (digits == 0 || digits > 19 || (digits > 1 && start[0] == '0') || n < (uint64_t)min ||
        n > (uint64_t)max)
        return false;
    *value = (int64_t)n;
    return true;
}

//  Exactly len lowercase hex digits and the closing quote; the digits are
//  copied to dest (len + 1 bytes) when it is not NULL.
static bool s_hex(s_text_t *text, size_t len, char *dest, uint64_t *value)
{
    if ((size_t)(text->end - text->at) < len + 1 || text->at[len] != '"')
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text->at[i];
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0)
            return false;
        n = n << 4 | (uint64_t)digit;
    }
    if (dest) {
        memcpy(dest, text->at, len);
        dest[len] = '\0';
    }
    if (value)
        *value = n;
    text->at += len + 1;
    return true;
}

//  A name as zb_name_valid takes it (none of its characters needs an
//  escape) and the closing quote.
static bool s_name(s_text_t *text, char *dest)
{
    const char *start = text->at;
    while (text->at < text->end && *text->at != '"') {
        unsigned char c = (unsigned char)*text->at;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (text->at == start || (c != '.' && c != '_' && c != '-')))
            return false;
        if (text->at - start >= ZB_NAME_MAX)
            return false;
        text->at++;
    }
    size_t len = (size_t)(text->at - start);
    if (len == 0 || text->at == text->end)
        return false;
    memcpy(dest, start, len);
    dest[len] = '\0';
    text->at++;
    return true;
}

zb_msg_t *zb_msg_decode_thin(const void *topic, size_t topic_len, const void *json, size_t json_len)
{
    //  The fields go into a message on the stack and are copied once read:
    //  a declined text costs no allocation.
    zb_msg_t msg = {.type = ZB_MSG_BEAT, .thin = true, .has_digest = true};
    int64_t seq, dropped;
    s_text_t text = {json, (const char *)json + json_len};
    if (!S_LITERAL(&text, "{\"v\":2,\"type\":\"beat\",\"host\":\"") || !s_name(&text, msg.host) ||
        !S_LITERAL(&text, ",\"instance\":\"") ||
        !s_hex(&text, ZB_INSTANCE_LEN, msg.instance, NULL) || !S_LITERAL(&text, ",\"seq\":") ||
        !s_integer(&text, 1, INT64_MAX, &seq) || !S_LITERAL(&text, ",\"time_ms\":") ||
        !s_integer(&text, 0, INT64_MAX, &msg.time_ms) || !S_LITERAL(&text, ",\"interval_ms\":") ||
        !s_integer(&text, 1, ZB_PROTO_INTERVAL_MAX_MS, &msg.interval_ms) ||
        !S_LITERAL(&text, ",\"dropped\":") || !s_integer(&text, 0, INT64_MAX, &dropped) ||
        !S_LITERAL(&text, ",\"digest\":\"") || !s_hex(&text, 16, NULL, &msg.digest) ||
        !S_LITERAL(&text, "}") || text.at != text.end)
        return NULL;
    //  The topic must say what the body says: subscribers filter on it.
    size_t host_len = strlen(msg.host);
    if (topic_len != 5 + host_len || memcmp(topic, "beat.", 5) != 0 ||
        memcmp((const char *)topic + 5, msg.host, host_len) != 0)
        return NULL;
    msg.seq = (uint64_t)seq;
    msg.dropped = (uint64_t)dropped;
    zb_msg_t *self = zb_msg_new(ZB_MSG_BEAT);
    if (self)
        *self = msg;
    return self;
}
