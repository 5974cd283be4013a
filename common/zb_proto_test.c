/*  zb_proto's self-test: the whole protocol (messages, the strict decoder and wire I/O). */
#include "zb_proto.h"
#include "zb_proto_thin.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Self-test

static zb_msg_t *s_decode_text(const char *topic, const char *json, char *err, size_t errsize)
{
    return zb_msg_decode(topic, strlen(topic), json, strlen(json), err, errsize);
}

//  Decoding len bytes of json must fail, and the reason must mention
//  `expect`.
static void s_expect_reject_n(const char *topic, const char *json, size_t len, const char *expect,
                              bool verbose)
{
    char err[256] = "";
    zb_msg_t *msg = zb_msg_decode(topic, strlen(topic), json, len, err, sizeof(err));
    if (verbose)
        printf("\n    rejected: %s", err);
    assert(msg == NULL);
    if (!strstr(err, expect)) {
        fprintf(stderr, "reason '%s' lacks '%s'\n", err, expect);
        assert(false);
    }
}

static void s_expect_reject(const char *topic, const char *json, const char *expect, bool verbose)
{
    s_expect_reject_n(topic, json, strlen(json), expect, verbose);
}

//  Decoding must succeed; returns the message.
static zb_msg_t *s_expect_accept(const char *topic, const char *json)
{
    char err[256] = "";
    zb_msg_t *msg = s_decode_text(topic, json, err, sizeof(err));
    if (!msg) {
        fprintf(stderr, "'%s' rejected: %s\n", json, err);
        assert(false);
    }
    return msg;
}

#define ZB_TEST_HEAD "{\"v\":1,\"type\":\"event\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
#define ZB_TEST_EVENT                                                                              \
    ZB_TEST_HEAD                                                                                   \
    "\"seq\":1,\"time_ms\":1,\"service\":\"s\",\"from\":\"up\",\"to\":\"down\",\"at_ms\":1"
#define ZB_TEST_BEAT                                                                               \
    "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\",\"seq\":1,"       \
    "\"time_ms\":1,\"interval_ms\":10,\"services\":["
#define ZB_TEST_SERVICE "{\"name\":\"a\",\"state\":\"up\",\"since_ms\":1"

//  Protocol v2: thin beats, and the digest that stands for the services.
static void s_test_thin(bool verbose)
{
    char err[256], *topic, *json;
    zb_service_status_t a = {.name = "redis",
                             .kind = "probe",
                             .state = ZB_STATE_UP,
                             .since_ms = 7,
                             .rtt_us = 100,
                             .reason = "ok"};
    zb_service_status_t b = a;
    strcpy(b.name, "web");
    uint64_t d = zb_msg_digest_add(zb_msg_digest_add(ZB_MSG_DIGEST_INIT, &a), &b);
    //  Order matters, the round trip does not, every other field does.
    assert(d != zb_msg_digest_add(zb_msg_digest_add(ZB_MSG_DIGEST_INIT, &b), &a));
    zb_service_status_t c = a;
    c.rtt_us = 999;
    assert(zb_msg_digest_add(ZB_MSG_DIGEST_INIT, &a) == zb_msg_digest_add(ZB_MSG_DIGEST_INIT, &c));
    zb_service_status_t changed[] = {a, a, a, a, a, a, a, a};
    changed[0].state = ZB_STATE_DOWN;
    changed[1].since_ms = 8;
    strcpy(changed[2].reason, "refused");
    strcpy(changed[3].error, "x");
    strcpy(changed[4].addr, "127.0.0.1:1");
    strcpy(changed[5].container, "abc");
    changed[6].tls_expires = 1;
    strcpy(changed[7].kind, "push");
    for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++)
        assert(zb_msg_digest_add(ZB_MSG_DIGEST_INIT, &a) !=
               zb_msg_digest_add(ZB_MSG_DIGEST_INIT, &changed[i]));
    //  "ab" + "" and "a" + "b" are different tables.
    zb_service_status_t x = {.name = "ab"}, y = {.name = "a", .kind = "b"};
    assert(zb_msg_digest_add(ZB_MSG_DIGEST_INIT, &x) != zb_msg_digest_add(ZB_MSG_DIGEST_INIT, &y));

    //  A full beat with a digest stays v1 (v1 receivers ignore the field).
    zb_msg_t *beat = zb_msg_new(ZB_MSG_BEAT);
    strcpy(beat->host, "h");
    strcpy(beat->instance, "0123456789abcdef");
    beat->seq = 3;
    beat->time_ms = 9;
    beat->interval_ms = 1000;
    beat->has_digest = true;
    beat->digest = d;
    assert(zb_msg_add_service(beat, &a) == 0 && zb_msg_add_service(beat, &b) == 0);
    assert(zb_msg_encode(beat, &topic, &json, err, sizeof(err)) == 0);
    assert(strncmp(json, "{\"v\":1,", 7) == 0 && strstr(json, "\"digest\":\""));
    zb_msg_t *copy = s_decode_text(topic, json, err, sizeof(err));
    assert(copy && !copy->thin && copy->has_digest && copy->digest == d);
    assert(copy->service_count == 2);
    zb_msg_destroy(&copy);
    free(topic);
    free(json);
    //  A thin beat: v2, the digest, no services.
    beat->thin = true;
    assert(zb_msg_encode(beat, &topic, &json, err, sizeof(err)) == 0);
    if (verbose)
        printf("\n    thin: %s", json);
    assert(strncmp(json, "{\"v\":2,", 7) == 0 && !strstr(json, "services"));
    copy = s_decode_text(topic, json, err, sizeof(err));
    assert(copy && copy->thin && copy->has_digest && copy->digest == d);
    assert(copy->service_count == 0 && copy->seq == 3 && copy->interval_ms == 1000);
    zb_msg_destroy(&copy);
    free(topic);
    free(json);
    zb_msg_destroy(&beat);

    //  What a thin beat must be
#define ZB_TEST_V2                                                                                 \
    "{\"v\":2,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\",\"seq\":1,"       \
    "\"time_ms\":1,\"interval_ms\":10"
    s_expect_reject("beat.h", ZB_TEST_V2 "}", "digest: missing", verbose);
    s_expect_reject("beat.h", ZB_TEST_V2 ",\"digest\":\"00000000000000FF\"}", "digest: not 16",
                    verbose);
    s_expect_reject("beat.h", ZB_TEST_V2 ",\"digest\":\"00ff\"}", "digest: not 16", verbose);
    s_expect_reject("beat.h", ZB_TEST_V2 ",\"digest\":7}", "digest: not a string", verbose);
    s_expect_reject("beat.h", ZB_TEST_V2 ",\"digest\":\"00000000000000ff\",\"services\":null}",
                    "services: missing", verbose);
    //  v1 has no thin beats: services stay required, whatever the digest.
    s_expect_reject("beat.h",
                    "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
                    "\"seq\":1,\"time_ms\":1,\"interval_ms\":10,\"digest\":\"00000000000000ff\"}",
                    "services: missing", verbose);
    //  A v2 beat may be full, and a v2 event reads as a v1 one.
    copy =
        s_expect_accept("beat.h", ZB_TEST_V2 ",\"digest\":\"00000000000000ff\",\"services\":[]}");
    assert(!copy->thin && copy->digest == 0xff);
    zb_msg_destroy(&copy);
#undef ZB_TEST_V2
}

//  The thin beat's fast path (zb_proto_thin): it takes the encoder's own
//  text, declines every other, and what it takes the general decoder takes
//  too, into the same message.
static void s_thin_case(const char *topic, const char *json, bool fast_takes)
{
    char err[256] = "";
    zb_msg_t *fast = zb_msg_decode_thin(topic, strlen(topic), json, strlen(json));
    zb_msg_t *general =
        zb_msg_decode_general(topic, strlen(topic), json, strlen(json), err, sizeof(err));
    if (!fast != !fast_takes) {
        fprintf(stderr, "fast path %s '%s'\n", fast ? "took" : "declined", json);
        assert(false);
    }
    assert(!fast || (general && zb_msg_same(fast, general)));
    zb_msg_destroy(&fast);
    zb_msg_destroy(&general);
}

static void s_test_thin_fast(void)
{
    char err[256], *topic, *json;
    zb_msg_t *beat = zb_msg_new(ZB_MSG_BEAT);
    strcpy(beat->host, "web-01.example_a");
    strcpy(beat->instance, "0123456789abcdef");
    beat->seq = INT64_MAX; // 19 digits, as jansson writes it
    beat->time_ms = 1796000000000;
    beat->interval_ms = ZB_PROTO_INTERVAL_MAX_MS;
    beat->dropped = 7;
    beat->thin = beat->has_digest = true;
    beat->digest = 0xfedcba9876543210;
    assert(zb_msg_encode(beat, &topic, &json, err, sizeof(err)) == 0);
    s_thin_case(topic, json, true);
    zb_msg_t *fast = zb_msg_decode_thin(topic, strlen(topic), json, strlen(json));
    assert(fast && zb_msg_same(fast, beat));
    zb_msg_destroy(&fast);
    free(topic);
    free(json);
    //  The smallest values and a name of 64 characters.
    char name[ZB_NAME_MAX + 2];
    memset(name, 'a', ZB_NAME_MAX);
    name[ZB_NAME_MAX] = '\0';
    strcpy(beat->host, name);
    beat->seq = 1;
    beat->time_ms = beat->dropped = beat->digest = 0;
    beat->interval_ms = 1;
    assert(zb_msg_encode(beat, &topic, &json, err, sizeof(err)) == 0);
    s_thin_case(topic, json, true);
    free(topic);
    free(json);
    zb_msg_destroy(&beat);

    //  Declined: each differs from the encoder's form in one way. Some are
    //  valid (the general decoder reads them), most are not.
#define ZB_TEST_T0 "{\"v\":2,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
#define ZB_TEST_T1 "\"seq\":5,\"time_ms\":1,\"interval_ms\":10,\"dropped\":0,"
#define ZB_TEST_T2 "\"digest\":\"00000000000000ff\"}"
    s_thin_case("beat.h", ZB_TEST_T0 ZB_TEST_T1 ZB_TEST_T2, true);
    const char *declined[][2] = {
        {"beat.h", " " ZB_TEST_T0 ZB_TEST_T1 ZB_TEST_T2},
        {"beat.h", ZB_TEST_T0 ZB_TEST_T1 ZB_TEST_T2 "\n"},
        {"beat.h", ZB_TEST_T0 ZB_TEST_T1 "\"digest\": \"00000000000000ff\"}"},
        {"beat.h", ZB_TEST_T0 ZB_TEST_T1 "\"digest\":\"00000000000000FF\"}"},
        {"beat.h", ZB_TEST_T0 ZB_TEST_T1 "\"digest\":\"00000000000000f\"}"},
        {"beat.h", ZB_TEST_T0 ZB_TEST_T1 "\"digest\":\"00000000000000ff\",\"x\":1}"},
        {"beat.h", ZB_TEST_T0 ZB_TEST_T1 "\"digest\":\"00000000000000ff\""},
        {"beat.h", ZB_TEST_T0 "\"seq\":5,\"time_ms\":1,\"interval_ms\":10,\"dropped\":0}"},
        {"beat.h", ZB_TEST_T0 "\"seq\":5,\"time_ms\":1,\"interval_ms\":10," ZB_TEST_T2},
        {"beat.h",
         ZB_TEST_T0 "\"time_ms\":1,\"seq\":5,\"interval_ms\":10,\"dropped\":0," ZB_TEST_T2},
        {"beat.h",
         ZB_TEST_T0 "\"seq\":0,\"time_ms\":1,\"interval_ms\":10,\"dropped\":0," ZB_TEST_T2},
        {"beat.h",
         ZB_TEST_T0 "\"seq\":05,\"time_ms\":1,\"interval_ms\":10,\"dropped\":0," ZB_TEST_T2},
        {"beat.h", ZB_TEST_T0 "\"seq\":9223372036854775808,\"time_ms\":1,\"interval_ms\":10,"
                              "\"dropped\":0," ZB_TEST_T2},
        {"beat.h", ZB_TEST_T0 "\"seq\":12345678901234567890,\"time_ms\":1,\"interval_ms\":10,"
                              "\"dropped\":0," ZB_TEST_T2},
        {"beat.h",
         ZB_TEST_T0 "\"seq\":5,\"time_ms\":-1,\"interval_ms\":10,\"dropped\":0," ZB_TEST_T2},
        {"beat.h",
         ZB_TEST_T0 "\"seq\":5,\"time_ms\":1.5,\"interval_ms\":10,\"dropped\":0," ZB_TEST_T2},
        {"beat.h",
         ZB_TEST_T0 "\"seq\":5,\"time_ms\":1,\"interval_ms\":86400001,\"dropped\":0," ZB_TEST_T2},
        {"beat.h",
         ZB_TEST_T0 "\"seq\":5,\"time_ms\":1,\"interval_ms\":0,\"dropped\":0," ZB_TEST_T2},
        {"beat.h",
         ZB_TEST_T0 "\"seq\":5,\"time_ms\":1,\"interval_ms\":10,\"dropped\":-1," ZB_TEST_T2},
        {"beat.h",
         "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\"," ZB_TEST_T1
             ZB_TEST_T2},
        {"beat.h",
         "{\"v\":2,\"type\":\"event\",\"host\":\"h\",\"instance\":\"0123456789abcdef\"," ZB_TEST_T1
             ZB_TEST_T2},
        {"beat.h", "{\"v\":2,\"type\":\"beat\",\"host\":\"\\u0068\",\"instance\":"
                   "\"0123456789abcdef\"," ZB_TEST_T1 ZB_TEST_T2},
        {"beat.-h",
         "{\"v\":2,\"type\":\"beat\",\"host\":\"-h\",\"instance\":\"0123456789abcdef\"," ZB_TEST_T1
             ZB_TEST_T2},
        {"beat.",
         "{\"v\":2,\"type\":\"beat\",\"host\":\"\",\"instance\":\"0123456789abcdef\"," ZB_TEST_T1
             ZB_TEST_T2},
        {"beat.h",
         "{\"v\":2,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcde\"," ZB_TEST_T1
             ZB_TEST_T2},
        {"beat.hh", ZB_TEST_T0 ZB_TEST_T1 ZB_TEST_T2},
        {"beat.", ZB_TEST_T0 ZB_TEST_T1 ZB_TEST_T2},
        {"event.h", ZB_TEST_T0 ZB_TEST_T1 ZB_TEST_T2},
    };
    for (size_t i = 0; i < sizeof(declined) / sizeof(declined[0]); i++)
        s_thin_case(declined[i][0], declined[i][1], false);
    //  A name of 65 characters.
    char text[512];
    memset(name, 'a', ZB_NAME_MAX + 1);
    name[ZB_NAME_MAX + 1] = '\0';
    snprintf(
        text, sizeof(text),
        "{\"v\":2,\"type\":\"beat\",\"host\":\"%s\",\"instance\":\"0123456789abcdef\"," ZB_TEST_T1
            ZB_TEST_T2,
        name);
    char long_topic[128];
    snprintf(long_topic, sizeof(long_topic), "beat.%s", name);
    s_thin_case(long_topic, text, false);
#undef ZB_TEST_T0
#undef ZB_TEST_T1
#undef ZB_TEST_T2
}

//  A text with `depth` arrays nested in the value of an unknown key, and
//  `inner` in the innermost. The caller frees it.
static char *s_nested(size_t depth, const char *inner)
{
    size_t len = strlen(ZB_TEST_EVENT) + 2 * depth + strlen(inner) + 16;
    char *text = malloc(len);
    assert(text);
    size_t at = (size_t)snprintf(text, len, "%s,\"deep\":", ZB_TEST_EVENT);
    memset(text + at, '[', depth);
    at += depth;
    at += (size_t)snprintf(text + at, len - at, "%s", inner);
    memset(text + at, ']', depth);
    snprintf(text + at + depth, len - at - depth, "}");
    return text;
}

//  What the streaming decoder must do as the tree decoder did: what jansson
//  refused (and yajl alone would not), and the freedoms JSON gives.
static void s_test_strictness(bool verbose)
{
    //  Duplicate keys, known and unknown, at every level.
    s_expect_reject("beat.h", ZB_TEST_BEAT ZB_TEST_SERVICE ",\"name\":\"b\"}]}",
                    "duplicate key \"services[0].name\"", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"x\":1,\"x\":2}", "duplicate key \"x\"", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"x\":1,\"\\u0078\":2}", "duplicate key", verbose);
    //  A key quoted in the message is printable and unambiguous.
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"a\\\"b\\u001b\":1,\"a\\\"b\\u001b\":2}",
                    "duplicate key \"a\\x22b\\x1b\"", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"x\":[{\"a\":{\"b\":1,\"b\":1}}]}", "duplicate key",
                    verbose);
    s_expect_reject("beat.h", ZB_TEST_BEAT ZB_TEST_SERVICE ",\"x\":1,\"x\":1}]}", "duplicate key",
                    verbose);
    //  A beat has no "from": there it is an unknown key like any other.
    s_expect_reject("beat.h", ZB_TEST_BEAT "],\"from\":1,\"from\":1}", "duplicate key", verbose);
    //  Wrong types inside a service.
    s_expect_reject("beat.h", ZB_TEST_BEAT "{\"name\":\"a\",\"state\":\"up\",\"since_ms\":\"1\"}]}",
                    "services[0].since_ms: not an integer", verbose);
    s_expect_reject("beat.h",
                    ZB_TEST_BEAT ZB_TEST_SERVICE "}," ZB_TEST_SERVICE ",\"rtt_us\":true}]}",
                    "services[1].rtt_us: not an integer", verbose);
    s_expect_reject("beat.h", ZB_TEST_BEAT "{\"name\":7,\"state\":\"up\",\"since_ms\":1}]}",
                    "services[0].name: not a string", verbose);
    s_expect_reject("beat.h", ZB_TEST_BEAT "{\"name\":\"a\",\"state\":[],\"since_ms\":1}]}",
                    "services[0].state: not a string", verbose);
    s_expect_reject("beat.h", ZB_TEST_BEAT "[]]}", "services[0]: not an object", verbose);
    s_expect_reject("beat.h", ZB_TEST_BEAT "null]}", "services[0]: not an object", verbose);
    s_expect_reject("beat.h", ZB_TEST_BEAT ZB_TEST_SERVICE ",\"kind\":{}}]}",
                    "services[0].kind: not a string", verbose);
    s_expect_reject("beat.h",
                    "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
                    "\"seq\":1,\"time_ms\":1,\"interval_ms\":10,\"services\":{}}",
                    "services: missing or not an array", verbose);
    //  Numbers: ranges, int64 overflow, reals where integers belong.
    s_expect_reject("beat.h", ZB_TEST_BEAT ZB_TEST_SERVICE ",\"rtt_us\":-1}]}",
                    "services[0].rtt_us: -1 out of range", verbose);
    s_expect_reject("beat.h",
                    "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
                    "\"seq\":1,\"time_ms\":1,\"interval_ms\":86400001,\"services\":[]}",
                    "interval_ms: 86400001 out of range", verbose);
    s_expect_reject("event.h", "{\"v\":2147483648}", "v: 2147483648 out of range", verbose);
    s_expect_reject("event.h", "{\"v\":1.0}", "v: not an integer", verbose);
    s_expect_reject("beat.h", ZB_TEST_BEAT "{\"name\":\"a\",\"state\":\"up\",\"since_ms\":1e3}]}",
                    "services[0].since_ms: not an integer", verbose);
    s_expect_reject("event.h", ZB_TEST_HEAD "\"seq\":9223372036854775808}", "too big integer",
                    verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"x\":-9223372036854775809}",
                    "too big negative integer", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"x\":[1e400]}", "real number overflow", verbose);
    //  UTF-8: jansson's strict reading, which yajl's check does not have.
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"error\":\"\xff\"}", "invalid UTF-8", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"error\":\"\xc0\x80\"}", "invalid UTF-8", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"error\":\"\xed\xa0\x80\"}", "invalid UTF-8",
                    verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"x\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8",
                    verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"x\":\"\xe2\x82\"}", "invalid UTF-8", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT "}\xc3", "invalid UTF-8", verbose);
    //  \u escapes: lone or mismatched surrogates and U+0000, keys too.
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"error\":\"\\ud800\"}", "surrogate \\uD800",
                    verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"error\":\"\\udc00x\"}", "surrogate \\uDC00",
                    verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"error\":\"\\ud800\\u0041\"}", "surrogate",
                    verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"x\\u0000\":1}", "\\u0000 is not allowed", verbose);
    //  Control characters: raw ones in strings, and \v and \f, which yajl
    //  takes for whitespace. A raw NUL anywhere, even where jansson skipped
    //  one (right after a number).
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"error\":\"a\tb\"}", "bad JSON", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT "}\v", "control character 0x0b", verbose);
    s_expect_reject("event.h", "\f" ZB_TEST_EVENT "}", "control character 0x0c", verbose);
    static const char nul[] = "{\"v\":1\0,\"type\":\"event\"}";
    s_expect_reject_n("event.h", nul, sizeof(nul) - 1, "control character 0x00", verbose);
    //  Trailing garbage, even what yajl's own check lets through (an
    //  unterminated string), and truncated documents.
    s_expect_reject("event.h", ZB_TEST_EVENT "} x", "end of file expected", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT "}\"abc", "end of file expected", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT "}{}", "end of file expected", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT, "bad JSON", verbose);
    s_expect_reject("beat.h", ZB_TEST_BEAT ZB_TEST_SERVICE, "bad JSON", verbose);
    s_expect_reject("event.h", ZB_TEST_EVENT ",\"x\":\"abc", "bad JSON", verbose);
    s_expect_reject("event.h", "  ", "bad JSON", verbose);
    char none[64] = "";
    assert(!zb_msg_decode("event.h", 7, NULL, 0, none, sizeof(none)) && strstr(none, "bad JSON"));
    s_expect_reject("event.h", "12", "not a JSON object", verbose);
    s_expect_reject("event.h", "\"text\"", "not a JSON object", verbose);
    //  Nesting: a value may sit at depth 2048 (the root is at 1), no deeper.
    char *deep = s_nested(ZB_PROTO_MAX_DEPTH - 1, "");
    zb_msg_t *msg = s_expect_accept("event.h", deep);
    zb_msg_destroy(&msg);
    free(deep);
    deep = s_nested(ZB_PROTO_MAX_DEPTH, "");
    s_expect_reject("event.h", deep, "maximum parsing depth", verbose);
    free(deep);
    deep = s_nested(ZB_PROTO_MAX_DEPTH - 1, "1");
    s_expect_reject("event.h", deep, "maximum parsing depth", verbose);
    free(deep);
    deep = s_nested(100000, "");
    s_expect_reject("event.h", deep, "maximum parsing depth", verbose);
    free(deep);

    //  What JSON allows: any key order (type last, services first),
    //  whitespace, escapes, nulls for optional fields, unknown keys with
    //  any value at any level, the same key in different objects.
    msg = s_expect_accept("beat.h",
                          "{ \"services\" : [ { \"since_ms\" : 5 , \"state\" : \"down\" ,\n"
                          "\t\"name\" : \"\\u0061b\", \"rtt_us\": null, \"x\": {\"x\": [{\"x\": 1},"
                          " {\"x\": 1}]} } ] ,\r\n \"interval_ms\" : 10, \"dropped\": null,"
                          " \"time_ms\": 1, \"seq\": 9223372036854775807, \"instance\":"
                          " \"0123456789abcdef\", \"host\": \"h\", \"from\": \"sideways\","
                          " \"type\": \"beat\", \"v\": 1 } \n");
    assert(msg->type == ZB_MSG_BEAT && msg->seq == INT64_MAX && msg->service_count == 1);
    assert(strcmp(msg->services[0].name, "ab") == 0 && msg->services[0].state == ZB_STATE_DOWN);
    assert(msg->services[0].since_ms == 5 && msg->services[0].rtt_us == -1 && msg->dropped == 0);
    zb_msg_destroy(&msg);
    msg = s_expect_accept("event.h",
                          ZB_TEST_HEAD "\"seq\":1,\"time_ms\":1,\"service\":null,"
                                       "\"from\":\"up\",\"to\":\"stopped\",\"at_ms\":1,"
                                       "\"error\":\"\\ud83d\\ude00 \xc3\xa9\\n\\\"\\\\u0000\","
                                       "\"a\":-9223372036854775808,\"b\":1e-400,\"c\":"
                                       "123456789012345678901234567890.5,\"d\":[true,false,{}]}");
    assert(msg->service[0] == '\0' && msg->to == ZB_STATE_STOPPED);
    assert(strcmp(msg->error, "\xf0\x9f\x98\x80 \xc3\xa9\n\"\\u0000") == 0);
    zb_msg_destroy(&msg);
}

//  One entry of a beat's services array as a JSON tree: what the encoder's
//  text is checked against.
//  The reference the encoder is compared with: a string as jansson makes
//  it, "" for what jansson refuses (as zb_proto.c's s_text does).
static json_t *s_text(const char *text)
{
    json_t *value = json_string(text);
    return value ? value : json_string("");
}

static const zb_service_status_t *s_msg_service(void *arg, size_t index)
{
    const zb_msg_t *self = arg;
    return &self->services[index];
}

static const zb_service_status_t *s_msg_service_one(void *arg, size_t index)
{
    (void)index;
    return arg;
}

//  The encoder's text of one service: the element of a beat that has only
//  that service. Caller frees.
static char *s_encode_service(const zb_msg_t *beat, zb_service_status_t *s)
{
    char *topic = NULL, *json = NULL, err[256];
    size_t json_len = 0;
    assert(zb_msg_encode_beat(beat, 1, s_msg_service_one, s, &topic, &json, &json_len, err,
                              sizeof(err)) == 0);
    char *at = strstr(json, "\"services\":[");
    assert(at && json_len >= 2 && strcmp(json + json_len - 2, "]}") == 0);
    at += strlen("\"services\":[");
    char *item = strndup(at, (size_t)(json + json_len - 2 - at));
    assert(item);
    free(topic);
    free(json);
    return item;
}

static json_t *s_stamp(int64_t secs)
{
    char stamp[32];
    zb_time_format_rfc3339(secs * 1000, stamp, sizeof(stamp));
    return json_string(stamp);
}

static json_t *s_service_json(const zb_service_status_t *s)
{
    json_t *item = json_object();
    if (!item)
        return NULL;
    if (json_object_set_new(item, "name", s_text(s->name)) ||
        json_object_set_new(item, "kind", s_text(s->kind)) ||
        json_object_set_new(item, "state", json_string(zb_state_name(s->state))) ||
        json_object_set_new(item, "since_ms", json_integer(s->since_ms)) ||
        json_object_set_new(item, "rtt_us",
                            s->rtt_us >= 0 ? json_integer(s->rtt_us) : json_null()) ||
        json_object_set_new(item, "reason", s_text(s->reason)) ||
        json_object_set_new(item, "error", s_text(s->error)) ||
        (s->addr[0] && json_object_set_new(item, "addr", s_text(s->addr))) ||
        (s->container[0] && json_object_set_new(item, "container", s_text(s->container))) ||
        (s->tls_expires && json_object_set_new(item, "tls_expires", s_stamp(s->tls_expires)))) {
        json_decref(item);
        item = NULL;
    }
    return item;
}

void zb_proto_test(bool verbose)
{
    char err[256];
    assert(zb_name_valid("web-1"));
    assert(zb_name_valid("a.b_c-9"));
    assert(!zb_name_valid(""));
    assert(!zb_name_valid("-web"));
    assert(!zb_name_valid("web 1"));
    assert(!zb_name_valid("web/1"));
    assert(!zb_name_valid("w\xc3\xa9"));
    char longname[ZB_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname));
    longname[ZB_NAME_MAX] = '\0';
    assert(zb_name_valid(longname));
    longname[ZB_NAME_MAX] = 'a';
    longname[ZB_NAME_MAX + 1] = '\0';
    assert(!zb_name_valid(longname));

    zb_state_t state;
    assert(zb_state_parse("down", &state) == 0 && state == ZB_STATE_DOWN);
    assert(zb_state_parse("sideways", &state) == -1);
    assert(strcmp(zb_state_name(ZB_STATE_STOPPED), "stopped") == 0);

    //  Beat round trip
    zb_msg_t *beat = zb_msg_new(ZB_MSG_BEAT);
    strcpy(beat->host, "web-1");
    strcpy(beat->instance, "00112233445566ff");
    beat->seq = 42;
    beat->time_ms = 1764300000123;
    beat->interval_ms = 1000;
    beat->dropped = 3;
    for (int i = 0; i < 100; i++) {
        zb_service_status_t s = {.state = i % 2 ? ZB_STATE_UP : ZB_STATE_DOWN,
                                 .since_ms = 1764300000000 + i,
                                 .rtt_us = i == 7 ? -1 : i * 10};
        snprintf(s.name, sizeof(s.name), "svc-%d", i);
        strcpy(s.kind, "probe");
        strcpy(s.reason, i % 2 ? "ok" : "refused");
        strcpy(s.error, i % 2 ? "" : "connect: \"Connection refused\"\n");
        if (i % 3) // optional: beats from older agents have none
            snprintf(s.addr, sizeof(s.addr), i % 3 == 1 ? "10.0.0.%d:6379" : "[::%d]:22", i);
        if (i % 5 == 4) // optional: docker services only
            snprintf(s.container, sizeof(s.container), "0123456789%02d", i);
        if (i % 4 == 1) // optional: TLS probes only
            s.tls_expires = 1798761600 + i;
        assert(zb_msg_add_service(beat, &s) == 0);
    }
    char *topic, *json;
    assert(zb_msg_encode(beat, &topic, &json, err, sizeof(err)) == 0);
    assert(strcmp(topic, "beat.web-1") == 0);
    zb_msg_t *copy = s_decode_text(topic, json, err, sizeof(err));
    assert(copy);
    assert(copy->type == ZB_MSG_BEAT && copy->seq == 42 && copy->time_ms == beat->time_ms);
    assert(copy->interval_ms == 1000 && copy->dropped == 3 && copy->service_count == 100);
    assert(strcmp(copy->host, "web-1") == 0 && strcmp(copy->instance, beat->instance) == 0);
    for (int i = 0; i < 100; i++) {
        zb_service_status_t *a = &beat->services[i], *b = &copy->services[i];
        assert(strcmp(a->name, b->name) == 0 && a->state == b->state);
        assert(a->since_ms == b->since_ms && a->rtt_us == b->rtt_us);
        assert(strcmp(a->reason, b->reason) == 0 && strcmp(a->error, b->error) == 0);
        assert(strcmp(a->kind, b->kind) == 0 && strcmp(a->addr, b->addr) == 0);
        assert(strcmp(a->container, b->container) == 0);
        assert(a->tls_expires == b->tls_expires);
    }
    zb_msg_destroy(&copy);
    //  The text is what jansson makes of the whole document at once (the
    //  encoder used to build it so): same keys, same order, same bytes.
    json_t *dom = json_object();
    json_object_set_new(dom, "v", json_integer(1));
    json_object_set_new(dom, "type", json_string("beat"));
    json_object_set_new(dom, "host", json_string(beat->host));
    json_object_set_new(dom, "instance", json_string(beat->instance));
    json_object_set_new(dom, "seq", json_integer(42));
    json_object_set_new(dom, "time_ms", json_integer(beat->time_ms));
    json_object_set_new(dom, "interval_ms", json_integer(1000));
    json_object_set_new(dom, "dropped", json_integer(3));
    json_t *array = json_array();
    json_object_set_new(dom, "services", array);
    for (size_t i = 0; i < beat->service_count; i++)
        json_array_append_new(array, s_service_json(&beat->services[i]));
    char *whole = json_dumps(dom, JSON_COMPACT);
    assert(whole && strcmp(whole, json) == 0);
    free(whole);
    json_decref(dom);
    //  Escapes and UTF-8 checks as jansson's, byte for byte: every single
    //  byte, then random strings of bytes that make many (in)valid
    //  sequences.
    static const unsigned char alphabet[] = {'a',  '"',  '\\', '\n', 0x01, 0x1f, 0x7f, 0x80,
                                             0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0,
                                             0xf4, 0xf5, 0x9f, 0xa0, 0x8f, 0x90, 0xff, '/'};
    uint32_t rand_state = 12345;
    for (int i = 1; i < 256 + 20000; i++) {
        zb_service_status_t s = {.since_ms = i, .rtt_us = i % 3 ? i : -1};
        strcpy(s.name, "n");
        if (i < 256)
            s.error[0] = (char)i;
        else {
            rand_state = rand_state * 1103515245 + 12345;
            size_t len = (rand_state >> 16) % 12;
            for (size_t k = 0; k < len; k++) {
                rand_state = rand_state * 1103515245 + 12345;
                s.error[k] = (char)alphabet[(rand_state >> 16) % sizeof(alphabet)];
            }
        }
        char *mine = s_encode_service(beat, &s);
        json_t *item = s_service_json(&s);
        char *theirs = json_dumps(item, JSON_COMPACT);
        if (strcmp(mine, theirs) != 0) {
            fprintf(stderr, "\nencoder: %s\njansson: %s\n", mine, theirs);
            assert(false);
        }
        free(theirs);
        json_decref(item);
        free(mine);
    }
    free(topic);
    free(json);
    //  From a callback, and with no services at all.
    size_t json_len;
    assert(zb_msg_encode_beat(beat, 1, s_msg_service, beat, &topic, &json, &json_len, err,
                              sizeof(err)) == 0);
    assert(json_len == strlen(json));
    assert(strcmp(json, "{\"v\":1,\"type\":\"beat\",\"host\":\"web-1\",\"instance\":"
                        "\"00112233445566ff\",\"seq\":42,\"time_ms\":1764300000123,"
                        "\"interval_ms\":1000,\"dropped\":3,\"services\":[{\"name\":\"svc-0\","
                        "\"kind\":\"probe\",\"state\":\"down\",\"since_ms\":1764300000000,"
                        "\"rtt_us\":0,\"reason\":\"refused\",\"error\":\"connect: "
                        "\\\"Connection refused\\\"\\n\"}]}") == 0);
    free(topic);
    free(json);
    assert(zb_msg_encode_beat(beat, 0, NULL, NULL, &topic, &json, NULL, err, sizeof(err)) == 0);
    assert(strcmp(topic, "beat.web-1") == 0 && strstr(json, ",\"services\":[]}"));
    copy = s_decode_text(topic, json, err, sizeof(err));
    assert(copy && copy->service_count == 0);
    zb_msg_destroy(&copy);
    free(topic);
    free(json);
    assert(zb_msg_encode_beat(beat, ZB_PROTO_MAX_SERVICES + 1, s_msg_service, beat, &topic, &json,
                              NULL, err, sizeof(err)) == -1);
    assert(!topic && !json && strstr(err, "more than"));

    //  The beat's service limit
    while (beat->service_count < ZB_PROTO_MAX_SERVICES) {
        zb_service_status_t s = {.since_ms = 1};
        snprintf(s.name, sizeof(s.name), "s%zu", beat->service_count);
        assert(zb_msg_add_service(beat, &s) == 0);
    }
    zb_service_status_t extra = {.since_ms = 1};
    strcpy(extra.name, "one-too-many");
    assert(zb_msg_add_service(beat, &extra) == -1);
    assert(zb_msg_encode(beat, &topic, &json, err, sizeof(err)) == 0);
    copy = s_decode_text(topic, json, err, sizeof(err));
    assert(copy && copy->service_count == ZB_PROTO_MAX_SERVICES);
    zb_msg_destroy(&copy);
    free(topic);
    free(json);
    zb_msg_destroy(&beat);
    assert(beat == NULL);
    zb_msg_destroy(&beat); // harmless on NULL

    //  Event and host event round trips
    zb_msg_t *event = zb_msg_new(ZB_MSG_EVENT);
    strcpy(event->host, "db");
    strcpy(event->instance, "aaaaaaaaaaaaaaaa");
    event->seq = 1;
    event->time_ms = 5;
    strcpy(event->service, "redis");
    event->from = ZB_STATE_UP;
    event->to = ZB_STATE_DOWN;
    event->at_ms = 4;
    strcpy(event->reason, "refused");
    assert(zb_msg_encode(event, &topic, &json, err, sizeof(err)) == 0);
    assert(strcmp(topic, "event.db") == 0);
    copy = s_decode_text(topic, json, err, sizeof(err));
    assert(copy && copy->type == ZB_MSG_EVENT && copy->from == ZB_STATE_UP);
    assert(copy->to == ZB_STATE_DOWN && copy->at_ms == 4 && strcmp(copy->service, "redis") == 0);
    assert(strcmp(copy->reason, "refused") == 0);
    zb_msg_destroy(&copy);
    free(topic);
    free(json);
    event->service[0] = '\0';
    event->to = ZB_STATE_STOPPED;
    assert(zb_msg_encode(event, &topic, &json, err, sizeof(err)) == 0);
    assert(!strstr(json, "\"service\""));
    copy = s_decode_text(topic, json, err, sizeof(err));
    assert(copy && copy->service[0] == '\0' && copy->to == ZB_STATE_STOPPED);
    zb_msg_destroy(&copy);
    free(topic);
    free(json);
    zb_msg_destroy(&event);

    //  Unknown fields are ignored: later versions may add some.
    copy = s_decode_text("event.h",
                         ZB_TEST_HEAD "\"seq\":1,\"time_ms\":1,\"service\":\"s\",\"from\":\"up\","
                                      "\"to\":\"down\",\"at_ms\":1,\"future\":{\"x\":[1,2]}}",
                         err, sizeof(err));
    assert(copy);
    zb_msg_destroy(&copy);

    //  Every limit and malformation the decoder refuses
    const char *ev_tail =
        "\"seq\":1,\"time_ms\":1,\"service\":\"s\",\"from\":\"up\",\"to\":\"down\","
        "\"at_ms\":1}";
    char text[1024];
    s_expect_reject("event.h", "", "bad JSON", verbose);
    s_expect_reject("event.h", "{\"v\":1", "bad JSON", verbose);
    s_expect_reject("event.h", "[1,2]", "not a JSON object", verbose);
    s_expect_reject("event.h", "{\"type\":\"event\"}", "v: missing", verbose);
    s_expect_reject("event.h", "{\"v\":3,\"type\":\"event\"}", "version 3", verbose);
    s_expect_reject("event.h", "{\"v\":\"1\"}", "v: not an integer", verbose);
    s_expect_reject("event.h", "{\"v\":1,\"type\":\"gossip\"}", "unknown message type", verbose);
    s_expect_reject("event.h", "{\"v\":1,\"v\":1}", "bad JSON", verbose); // duplicate key
    snprintf(text, sizeof(text), ZB_TEST_HEAD "%s", ev_tail);
    s_expect_reject("beat.h", text, "topic does not match", verbose);
    s_expect_reject("event.hx", text, "topic does not match", verbose);
    snprintf(text, sizeof(text),
             "{\"v\":1,\"type\":\"event\",\"host\":\"h h\",\"instance\":\"0123456789abcdef\",%s",
             ev_tail);
    s_expect_reject("event.h h", text, "host: invalid name", verbose);
    snprintf(text, sizeof(text),
             "{\"v\":1,\"type\":\"event\",\"host\":\"h\",\"instance\":\"0123456789ABCDEF\",%s",
             ev_tail);
    s_expect_reject("event.h", text, "instance: not 16", verbose);
    s_expect_reject("event.h",
                    ZB_TEST_HEAD "\"seq\":0,\"time_ms\":1,\"service\":\"s\",\"from\":\"up\","
                                 "\"to\":\"down\",\"at_ms\":1}",
                    "seq: 0 out of range", verbose);
    s_expect_reject("event.h",
                    ZB_TEST_HEAD "\"seq\":1.5,\"time_ms\":1,\"service\":\"s\",\"from\":\"up\","
                                 "\"to\":\"down\",\"at_ms\":1}",
                    "seq: not an integer", verbose);
    s_expect_reject("event.h",
                    ZB_TEST_HEAD "\"seq\":1,\"time_ms\":1,\"service\":\"s\",\"from\":\"up\","
                                 "\"to\":\"sideways\",\"at_ms\":1}",
                    "to: unknown state", verbose);
    s_expect_reject("event.h",
                    ZB_TEST_HEAD "\"seq\":1,\"time_ms\":1,\"from\":\"up\",\"to\":\"down\","
                                 "\"at_ms\":1}",
                    "host event must go to stopped", verbose);
    s_expect_reject("event.h",
                    ZB_TEST_HEAD "\"seq\":1,\"time_ms\":1,\"service\":\"s\",\"from\":\"up\","
                                 "\"to\":\"down\",\"at_ms\":1,\"reason\":"
                                 "\"0123456789012345678901234567890123\"}",
                    "reason: longer than 32", verbose);
    s_expect_reject("event.h",
                    ZB_TEST_HEAD "\"seq\":1,\"time_ms\":1,\"service\":\"s\",\"from\":\"up\","
                                 "\"to\":\"down\",\"at_ms\":1,\"error\":\"a\\u0000b\"}",
                    "is not allowed", verbose); // jansson refuses NUL itself
    s_expect_reject("event.h",
                    ZB_TEST_HEAD "\"seq\":1,\"time_ms\":1,\"service\":7,\"from\":\"up\","
                                 "\"to\":\"down\",\"at_ms\":1}",
                    "service: not a string", verbose);
    s_expect_reject("event.h",
                    ZB_TEST_HEAD "\"seq\":1,\"time_ms\":-5,\"service\":\"s\",\"from\":\"up\","
                                 "\"to\":\"down\",\"at_ms\":1}",
                    "time_ms: -5 out of range", verbose);
    s_expect_reject("beat.h",
                    "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
                    "\"seq\":1,\"time_ms\":1,\"interval_ms\":1000}",
                    "services: missing", verbose);
    s_expect_reject("beat.h",
                    "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
                    "\"seq\":1,\"time_ms\":1,\"interval_ms\":0,\"services\":[]}",
                    "interval_ms: 0 out of range", verbose);
    s_expect_reject("beat.h",
                    "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
                    "\"seq\":1,\"time_ms\":1,\"interval_ms\":10,\"services\":[{\"name\":\"a\","
                    "\"state\":\"up\",\"since_ms\":1},{\"name\":\"\",\"state\":\"up\","
                    "\"since_ms\":1}]}",
                    "services[1].name: invalid name", verbose);
    s_expect_reject("beat.h",
                    "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
                    "\"seq\":1,\"time_ms\":1,\"interval_ms\":10,\"services\":[{\"name\":\"a\","
                    "\"state\":\"removed\",\"since_ms\":1}]}",
                    "events only", verbose);
    s_expect_reject("beat.h",
                    "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":\"0123456789abcdef\","
                    "\"seq\":1,\"time_ms\":1,\"interval_ms\":10,\"services\":[7]}",
                    "not an object", verbose);

    s_test_strictness(verbose);
    s_test_thin(verbose);
    s_test_thin_fast();

    //  Size limits: an oversized frame is refused before parsing, and a beat
    //  with one service too many is refused after.
    char *big = malloc(ZB_PROTO_MAX_BYTES + 2);
    memset(big, ' ', ZB_PROTO_MAX_BYTES + 1);
    big[ZB_PROTO_MAX_BYTES + 1] = '\0';
    s_expect_reject("beat.h", big, "too large", verbose);
    free(big);
    //  Valid services, so that the count is what trips.
    const char *item = "{\"name\":\"a\",\"state\":\"up\",\"since_ms\":1}";
    size_t cap = 200 + (ZB_PROTO_MAX_SERVICES + 1) * (strlen(item) + 1);
    char *many = malloc(cap);
    size_t len = (size_t)snprintf(many, cap,
                                  "{\"v\":1,\"type\":\"beat\",\"host\":\"h\",\"instance\":"
                                  "\"0123456789abcdef\",\"seq\":1,\"time_ms\":1,"
                                  "\"interval_ms\":10,\"services\":[");
    for (int i = 0; i <= ZB_PROTO_MAX_SERVICES; i++)
        len += (size_t)snprintf(many + len, cap - len, "%s%s", i ? "," : "", item);
    snprintf(many + len, cap - len, "]}");
    s_expect_reject("beat.h", many, "more than", verbose);
    free(many);

    //  Over a real PUB/SUB pair: send, receive, and a malformed message is
    //  consumed whole and reported. Until the subscription has reached the
    //  PUB its messages are dropped, so warm up with retries, then test.
    zsock_t *sub = zsock_new_sub("@inproc://zb-proto-test", "");
    zsock_t *pub = zsock_new_pub(">inproc://zb-proto-test");
    assert(sub && pub);
    zsock_set_rcvtimeo(sub, 10);
    event = zb_msg_new(ZB_MSG_EVENT);
    strcpy(event->host, "h");
    strcpy(event->instance, "0123456789abcdef");
    strcpy(event->service, "s");
    event->seq = 1;
    event->to = ZB_STATE_DOWN;
    zb_msg_t *msg = NULL;
    int64_t deadline = zclock_mono() + 5000;
    while (!msg && zclock_mono() < deadline) {
        assert(zb_msg_send(event, pub) == 0);
        zb_msg_recv(sub, &msg, err, sizeof(err));
    }
    assert(msg && msg->seq == 1);
    zb_msg_destroy(&msg);
    while (zb_msg_recv(sub, &msg, err, sizeof(err)) == 0) // drain the warm-up surplus
        zb_msg_destroy(&msg);
    zsock_set_rcvtimeo(sub, 2000);
    zstr_sendx(pub, "beat.h", "{not json", "extra", NULL);
    event->seq = 9;
    assert(zb_msg_send(event, pub) == 0);
    assert(zb_msg_recv(sub, &msg, err, sizeof(err)) == -1);
    assert(strstr(err, "expected 2 frames, got 3"));
    assert(zb_msg_recv(sub, &msg, err, sizeof(err)) == 0);
    assert(msg->seq == 9 && msg->to == ZB_STATE_DOWN);
    zb_msg_destroy(&msg);
    zb_msg_destroy(&event);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}
