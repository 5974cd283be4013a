/*  zb_proto: wire protocol v1 and v2's thin beats: the encoder, sending and receiving. Its
    self-test (zb_proto_test.c) covers the whole protocol, the messages and
    the strict decoder included, which this module builds on. */
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
    //  Only a thin beat is v2: a full beat with a digest is a v1 beat with
    //  one more field, which v1 receivers ignore.
    int version =
        self->type == ZB_MSG_BEAT && self->thin ? ZB_PROTO_VERSION_THIN : ZB_PROTO_VERSION;
    if (json_object_set_new(root, "v", json_integer(version)) ||
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

//  Fills the empty services array that ends buf ("...[]}") with count
//  services from fn, each dumped on its own.
static int s_buf_services(s_buf_t *buf, size_t count, zb_msg_service_fn *fn, void *arg)
{
    assert(buf->len > 3 && memcmp(buf->data + buf->len - 3, "[]}", 3) == 0);
    buf->len -= 2;
    size_t head = buf->len;
    for (size_t i = 0; i < count; i++) {
        if (i > 0) {
            //  The rest like the services so far, with an eighth to spare.
            size_t rest = (buf->len - head) / i * (count - i) + 2;
            buf->expect = buf->len + rest + rest / 8;
            if (buf->expect > ZB_PROTO_MAX_BYTES + 1)
                buf->expect = ZB_PROTO_MAX_BYTES + 1;
        }
        if ((i > 0 && s_buf_append(buf, ",", 1) == -1) || s_buf_service(buf, fn(arg, i)) == -1 ||
            buf->len > ZB_PROTO_MAX_BYTES)
            return -1;
    }
    if (s_buf_append(buf, "]}", 2) == -1 || buf->len > ZB_PROTO_MAX_BYTES)
        return -1;
    return 0;
}

//  The digest as 16 lowercase hex digits (a JSON number would lose bits
//  in readers whose numbers are doubles).
static json_t *s_digest_json(uint64_t digest)
{
    char hex[17];
    snprintf(hex, sizeof(hex), "%016" PRIx64, digest);
    return json_string(hex);
}

int zb_msg_encode_beat(const zb_msg_t *self, size_t count, zb_msg_service_fn *fn, void *arg,
                       char **topic_p, char **json_p, size_t *json_len_p, char *err, size_t errsize)
{
    assert(self && self->type == ZB_MSG_BEAT && (fn || count == 0 || self->thin));
    assert(!self->thin || self->has_digest);
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
    //  A thin beat is the header alone, with the digest.
    json_t *root = s_head_json(self);
    if (!root || json_object_set_new(root, "interval_ms", json_integer(self->interval_ms)) ||
        json_object_set_new(root, "dropped", json_integer((json_int_t)self->dropped)) ||
        (self->has_digest && json_object_set_new(root, "digest", s_digest_json(self->digest))) ||
        (!self->thin && json_object_set_new(root, "services", json_array())) ||
        s_buf_dump(&buf, root) == -1) {
        json_decref(root);
        snprintf(err, errsize, "out of memory");
        goto done;
    }
    json_decref(root);
    if (!self->thin && s_buf_services(&buf, count, fn, arg) == -1) {
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

int zb_msg_recv_frames(void *handle, int flags, zmq_msg_t frames[2])
{
    int count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, handle, count == 0 ? flags : 0) < 0) {
            zmq_msg_close(&frame);
            break; // the rest of a multipart message always arrives with it
        }
        more = zmq_msg_more(&frame);
        if (count < 2)
            frames[count] = frame;
        else
            zmq_msg_close(&frame);
        count++;
    }
    return count;
}

//  user_id (may be NULL) receives the "User-Id" property of the first frame:
//  the key a ZAP handler admitted the sender's connection with, or "" when
//  there is none (no ZAP handler, as with plaintext).
static int s_recv(void *zsock, zb_msg_t **msg_p, char *user_id, size_t user_id_size, char *err,
                  size_t errsize, int flags)
{
    zmq_msg_t frames[2];
    int rc = -1;
    *msg_p = NULL;
    int count = zb_msg_recv_frames(zsock_resolve(zsock), flags, frames);
    if (count == 0) {
        snprintf(err, errsize, "%s", zmq_strerror(errno));
        return -2;
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
