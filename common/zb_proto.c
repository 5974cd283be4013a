/*  zb_proto: wire protocol v1: the encoder, sending and receiving, and the
    self-test of the whole protocol (messages and the strict decoder
    included, which this module builds on). */
#include "zb_proto.h"
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
//  Encoding

//  Texts from strerror and the like are ASCII; anything jansson refuses as
//  invalid UTF-8 is sent as an empty string rather than failing the message.
static json_t *s_text(const char *text)
{
    json_t *value = json_string(text);
    return value ? value : json_string("");
}

static const char *s_type_name(zb_msg_type_t type)
{
    return type == ZB_MSG_BEAT ? "beat" : "event";
}

//  v, type, host, instance, seq and time_ms: what every message starts with.
static json_t *s_head_json(const zb_msg_t *self)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    if (json_object_set_new(root, "v", json_integer(ZB_PROTO_VERSION)) ||
        json_object_set_new(root, "type", json_string(s_type_name(self->type))) ||
        json_object_set_new(root, "host", s_text(self->host)) ||
        json_object_set_new(root, "instance", s_text(self->instance)) ||
        json_object_set_new(root, "seq", json_integer((json_int_t)self->seq)) ||
        json_object_set_new(root, "time_ms", json_integer(self->time_ms))) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

//  The beat's text, built piece by piece. Always NUL-terminated once data
//  is set; len excludes the NUL.
typedef struct {
    char *data;
    size_t len;
    size_t size;
    size_t expect; // projected length of the whole text, 0 when unknown
} s_buf_t;

//  Makes room for `more` bytes and a NUL. The buffer grows to the
//  projected size of the whole text at once: doubling would leave up to
//  twice the text allocated, and a trail of freed smaller buffers, every
//  beat. The size is rounded up (to 64 KiB for a large beat) so that the
//  next beat of about the same length reuses the block this one freed.
static int s_buf_reserve(s_buf_t *buf, size_t more)
{
    if (more > ZB_PROTO_MAX_BYTES)
        return -1;
    size_t need = buf->len + more + 1;
    if (need <= buf->size)
        return 0;
    size_t size = buf->expect > need ? buf->expect : need;
    if (size < 2 * buf->size && !buf->expect)
        size = 2 * buf->size;
    size_t grain = size < 65536 ? 4096 : 65536;
    size = (size + grain - 1) / grain * grain;
    char *data = realloc(buf->data, size);
    if (!data)
        return -1;
    buf->data = data;
    buf->size = size;
    return 0;
}

static int s_buf_append(s_buf_t *buf, const char *text, size_t len)
{
    if (s_buf_reserve(buf, len) == -1)
        return -1;
    memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

//  Appends value's compact JSON, as json_dumps(value, JSON_COMPACT) writes
//  it: straight into the buffer, with no string of its own.
static int s_buf_dump(s_buf_t *buf, const json_t *value)
{
    size_t room = buf->size > buf->len ? buf->size - buf->len - 1 : 0;
    size_t need = json_dumpb(value, buf->data + buf->len, room, JSON_COMPACT);
    if (need == 0)
        return -1;
    if (need > room) {
        if (s_buf_reserve(buf, need) == -1)
            return -1;
        json_dumpb(value, buf->data + buf->len, need, JSON_COMPACT);
    }
    buf->len += need;
    buf->data[buf->len] = '\0';
    return 0;
}

//  Appends text as a JSON string, escaped as jansson escapes it; text that
//  is not valid UTF-8 (what jansson refuses) becomes "", as s_text makes
//  it.
static int s_buf_string(s_buf_t *buf, const char *text)
{
    size_t len = strlen(text), most = ZB_TEXT_JSON_MAX(len), written;
    if (s_buf_reserve(buf, most + 2) == -1)
        return -1;
    char *out = buf->data + buf->len;
    *out++ = '"';
    if (zb_text_json_escape(text, len, out, most, &written, 0) == len)
        out += written;
    *out++ = '"';
    buf->len = (size_t)(out - buf->data);
    buf->data[buf->len] = '\0';
    return 0;
}

//  Appends one entry of a beat's services array, the text jansson makes of
//  it (s_service_json, which the self-test compares it with), without a
//  JSON tree: at thousands of services per beat the tree was most of the
//  agent's own CPU after the probes' system calls.
static int s_buf_service(s_buf_t *buf, const zb_service_status_t *s)
{
    char number[64];
    int n;
    if (s_buf_append(buf, "{\"name\":", 8) == -1 || s_buf_string(buf, s->name) == -1 ||
        s_buf_append(buf, ",\"kind\":", 8) == -1 || s_buf_string(buf, s->kind) == -1 ||
        s_buf_append(buf, ",\"state\":", 9) == -1 ||
        s_buf_string(buf, zb_state_name(s->state)) == -1)
        return -1;
    if (s->rtt_us >= 0)
        n = snprintf(number, sizeof(number), ",\"since_ms\":%" PRId64 ",\"rtt_us\":%" PRId64,
                     s->since_ms, s->rtt_us);
    else
        n = snprintf(number, sizeof(number), ",\"since_ms\":%" PRId64 ",\"rtt_us\":null",
                     s->since_ms);
    if (s_buf_append(buf, number, (size_t)n) == -1 || s_buf_append(buf, ",\"reason\":", 10) == -1 ||
        s_buf_string(buf, s->reason) == -1 || s_buf_append(buf, ",\"error\":", 9) == -1 ||
        s_buf_string(buf, s->error) == -1)
        return -1;
    //  Optional: only probes have one.
    if (s->addr[0] &&
        (s_buf_append(buf, ",\"addr\":", 8) == -1 || s_buf_string(buf, s->addr) == -1))
        return -1;
    if (s->container[0] &&
        (s_buf_append(buf, ",\"container\":", 13) == -1 || s_buf_string(buf, s->container) == -1))
        return -1;
    //  Optional: only TLS probes have one.
    if (s->tls_expires) {
        char stamp[32];
        zb_time_format_rfc3339(s->tls_expires * 1000, stamp, sizeof(stamp));
        if (s_buf_append(buf, ",\"tls_expires\":", 15) == -1 || s_buf_string(buf, stamp) == -1)
            return -1;
    }
    if (s_buf_append(buf, "}", 1) == -1)
        return -1;
    return 0;
}

static int s_topic(const zb_msg_t *self, char **topic_p, char *err, size_t errsize)
{
    if (asprintf(topic_p, "%s.%s", s_type_name(self->type), self->host) < 0) {
        *topic_p = NULL;
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    return 0;
}

int zb_msg_encode_beat(const zb_msg_t *self, size_t count, zb_msg_service_fn *fn, void *arg,
                       char **topic_p, char **json_p, size_t *json_len_p, char *err, size_t errsize)
{
    assert(self && self->type == ZB_MSG_BEAT && (fn || count == 0));
    int rc = -1;
    s_buf_t buf = {NULL, 0, 0, 0};
    *topic_p = NULL;
    *json_p = NULL;
    if (count > ZB_PROTO_MAX_SERVICES) {
        snprintf(err, errsize, "more than %d services", ZB_PROTO_MAX_SERVICES);
        goto done;
    }
    //  Never a NULL buffer for json_dumpb, even with no room left.
    if (s_buf_reserve(&buf, 0) == -1) {
        snprintf(err, errsize, "out of memory");
        goto done;
    }
    //  The header with an empty services array, "...,"services":[]}"; the
    //  services then go between the brackets, each dumped on its own, which
    //  is the text jansson makes of the whole document at once.
    json_t *root = s_head_json(self);
    if (!root || json_object_set_new(root, "interval_ms", json_integer(self->interval_ms)) ||
        json_object_set_new(root, "dropped", json_integer((json_int_t)self->dropped)) ||
        json_object_set_new(root, "services", json_array()) || s_buf_dump(&buf, root) == -1) {
        json_decref(root);
        snprintf(err, errsize, "out of memory");
        goto done;
    }
    json_decref(root);
    assert(buf.len > 3 && memcmp(buf.data + buf.len - 3, "[]}", 3) == 0);
    buf.len -= 2;
    size_t head = buf.len;
    for (size_t i = 0; i < count; i++) {
        if (i > 0) {
            //  The rest like the services so far, with an eighth to spare.
            size_t rest = (buf.len - head) / i * (count - i) + 2;
            buf.expect = buf.len + rest + rest / 8;
            if (buf.expect > ZB_PROTO_MAX_BYTES + 1)
                buf.expect = ZB_PROTO_MAX_BYTES + 1;
        }
        if ((i > 0 && s_buf_append(&buf, ",", 1) == -1) || s_buf_service(&buf, fn(arg, i)) == -1 ||
            buf.len > ZB_PROTO_MAX_BYTES) {
            snprintf(err, errsize, "message too large or out of memory");
            goto done;
        }
    }
    if (s_buf_append(&buf, "]}", 2) == -1 || buf.len > ZB_PROTO_MAX_BYTES) {
        snprintf(err, errsize, "message too large or out of memory");
        goto done;
    }
    if (s_topic(self, topic_p, err, errsize) == -1)
        goto done;
    *json_p = buf.data;
    buf.data = NULL;
    if (json_len_p)
        *json_len_p = buf.len;
    rc = 0;
done:
    free(buf.data);
    return rc;
}

static const zb_service_status_t *s_msg_service(void *arg, size_t index)
{
    const zb_msg_t *self = arg;
    return &self->services[index];
}

int zb_msg_encode(const zb_msg_t *self, char **topic_p, char **json_p, char *err, size_t errsize)
{
    if (self->type == ZB_MSG_BEAT)
        return zb_msg_encode_beat(self, self->service_count, s_msg_service, (void *)self, topic_p,
                                  json_p, NULL, err, errsize);
    int rc = -1;
    json_t *root = s_head_json(self);
    *topic_p = NULL;
    *json_p = NULL;
    if (!root) {
        snprintf(err, errsize, "out of memory");
        goto done;
    }
    if (self->service[0])
        json_object_set_new(root, "service", s_text(self->service));
    json_object_set_new(root, "from", json_string(zb_state_name(self->from)));
    json_object_set_new(root, "to", json_string(zb_state_name(self->to)));
    json_object_set_new(root, "at_ms", json_integer(self->at_ms));
    json_object_set_new(root, "reason", s_text(self->reason));
    json_object_set_new(root, "error", s_text(self->error));
    *json_p = json_dumps(root, JSON_COMPACT);
    if (!*json_p || strlen(*json_p) > ZB_PROTO_MAX_BYTES) {
        snprintf(err, errsize, "message too large or out of memory");
        goto done;
    }
    if (s_topic(self, topic_p, err, errsize) == -1)
        goto done;
    rc = 0;
done:
    if (rc != 0) {
        free(*json_p);
        *json_p = NULL;
    }
    json_decref(root);
    return rc;
}

//  --------------------------------------------------------------------------
//  Sockets

//  ZeroMQ frees a zero-copy frame's data with this, from its I/O thread.
static void s_free_frame(void *data, void *hint)
{
    (void)hint;
    free(data);
}

//  Sends topic and json (len bytes), taking json: it becomes the second
//  frame's data without a copy, and ZeroMQ frees it once sent.
static int s_send(void *zsock, const char *topic, char *json, size_t len)
{
    void *handle = zsock_resolve(zsock);
    //  A PUB decides at the first frame whether the message goes out (with
    //  ZMQ_XPUB_NODROP it refuses with EAGAIN instead of dropping silently);
    //  once the first frame is accepted, the second one is too.
    if (zmq_send(handle, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        free(json);
        return -1;
    }
    zmq_msg_t frame;
    if (zmq_msg_init_data(&frame, json, len, s_free_frame, NULL) != 0) {
        free(json);
        return -1;
    }
    if (zmq_msg_send(&frame, handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&frame); // frees json
        return -1;
    }
    return 0;
}

int zb_msg_send(const zb_msg_t *self, void *zsock)
{
    if (self->type == ZB_MSG_BEAT)
        return zb_msg_send_beat(self, self->service_count, s_msg_service, (void *)self, zsock);
    char *topic, *json, err[128];
    if (zb_msg_encode(self, &topic, &json, err, sizeof(err)) != 0)
        return -1;
    int rc = s_send(zsock, topic, json, strlen(json));
    free(topic);
    return rc;
}

int zb_msg_send_beat(const zb_msg_t *self, size_t count, zb_msg_service_fn *fn, void *arg,
                     void *zsock)
{
    char *topic, *json, err[128];
    size_t len;
    if (zb_msg_encode_beat(self, count, fn, arg, &topic, &json, &len, err, sizeof(err)) != 0)
        return -1;
    int rc = s_send(zsock, topic, json, len);
    free(topic);
    return rc;
}

//  user_id (may be NULL) receives the "User-Id" property of the first frame:
//  the key a ZAP handler admitted the sender's connection with, or "" when
//  there is none (no ZAP handler, as with plaintext).
static int s_recv(void *zsock, zb_msg_t **msg_p, char *user_id, size_t user_id_size, char *err,
                  size_t errsize, int flags)
{
    void *handle = zsock_resolve(zsock);
    zmq_msg_t frames[2];
    int count = 0, rc = -1;
    bool more = true;
    *msg_p = NULL;
    //  Read every frame of the message, so that a malformed one is consumed
    //  whole; keep only the first two.
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, handle, count == 0 ? flags : 0) < 0) {
            zmq_msg_close(&frame);
            if (count == 0) {
                snprintf(err, errsize, "%s", zmq_strerror(errno));
                return -2;
            }
            break; // the rest of a multipart message always arrives with it
        }
        more = zmq_msg_more(&frame);
        if (count < 2)
            frames[count] = frame;
        else
            zmq_msg_close(&frame);
        count++;
    }
    if (user_id && user_id_size) {
        const char *property = zmq_msg_gets(&frames[0], "User-Id");
        snprintf(user_id, user_id_size, "%s", property ? property : "");
    }
    if (count != 2)
        snprintf(err, errsize, "expected 2 frames, got %d", count);
    else {
        *msg_p = zb_msg_decode(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                               zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), err, errsize);
        rc = *msg_p ? 0 : -1;
    }
    for (int i = 0; i < count && i < 2; i++)
        zmq_msg_close(&frames[i]);
    return rc;
}

int zb_msg_recv(void *zsock, zb_msg_t **msg_p, char *err, size_t errsize)
{
    return s_recv(zsock, msg_p, NULL, 0, err, errsize, 0);
}

int zb_msg_recv_nowait(void *zsock, zb_msg_t **msg_p, char *err, size_t errsize)
{
    return s_recv(zsock, msg_p, NULL, 0, err, errsize, ZMQ_DONTWAIT);
}

int zb_msg_recv_nowait_user(void *zsock, zb_msg_t **msg_p, char *user_id, size_t user_id_size,
                            char *err, size_t errsize)
{
    return s_recv(zsock, msg_p, user_id, user_id_size, err, errsize, ZMQ_DONTWAIT);
}

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

static json_t *s_stamp(int64_t secs)
{
    char stamp[32];
    zb_time_format_rfc3339(secs * 1000, stamp, sizeof(stamp));
    return json_string(stamp);
}

//  One entry of a beat's services array as a JSON tree: what the encoder's
//  text is checked against.
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
        s_buf_t mine = {NULL, 0, 0, 0};
        assert(s_buf_service(&mine, &s) == 0);
        json_t *item = s_service_json(&s);
        char *theirs = json_dumps(item, JSON_COMPACT);
        if (strcmp(mine.data, theirs) != 0) {
            fprintf(stderr, "\nencoder: %s\njansson: %s\n", mine.data, theirs);
            assert(false);
        }
        free(theirs);
        json_decref(item);
        free(mine.data);
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
    s_expect_reject("event.h", "{\"v\":2,\"type\":\"event\"}", "version 2", verbose);
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
