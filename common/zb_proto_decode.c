/*  zb_proto_decode: the strict decoder of wire protocol v1. See
    zb_proto_decode.h; the self-test is the protocol's, in zb_proto.c.
*/
#include "zb_proto_decode.h"
#include "zb_json_scan.h"
#include "zb_proto_thin.h"
#include "zb_keyset.h"
#include "zb_msg.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

//  --------------------------------------------------------------------------
//  Decoding. One pass of yajl's callbacks checks every value as it arrives
//  and writes it straight into the message: no tree is built (jansson's
//  tree was most of the monitor's cost per beat). What is accepted is what
//  the tree decoder accepted: the strictness jansson had and yajl lacks is
//  added here (zb_json_scan, the depth limit, duplicate keys, number ranges).

//  What a key names. Root fields in the order the encoder writes them, then
//  a service's; S_F_ITEM stands for a whole element of "services".
typedef enum {
    S_F_UNKNOWN = -1,
    S_F_V,
    S_F_TYPE,
    S_F_HOST,
    S_F_INSTANCE,
    S_F_SEQ,
    S_F_TIME_MS,
    S_F_INTERVAL_MS,
    S_F_DROPPED,
    S_F_DIGEST,
    S_F_SERVICES,
    S_F_SERVICE,
    S_F_FROM,
    S_F_TO,
    S_F_AT_MS,
    S_F_REASON,
    S_F_ERROR,
    S_F_NAME, // first of a service's
    S_F_KIND,
    S_F_STATE,
    S_F_SINCE_MS,
    S_F_RTT_US,
    S_F_SVC_REASON,
    S_F_SVC_ERROR,
    S_F_SVC_ADDR,
    S_F_SVC_CONTAINER,
    S_F_SVC_TLS_EXPIRES,
    S_F_ITEM
} s_field_t;

typedef enum { S_INT, S_STR, S_NAME, S_STATE, S_LIST } s_kind_t;

//  Which messages have a field: every one (S_HEAD), beats or events.
#define S_HEAD 1
#define S_BEAT 2
#define S_EVENT 4

typedef struct {
    const char *key;
    size_t len;    // of key
    s_kind_t kind; // what its value must be
    int types;     // S_HEAD, S_BEAT or S_EVENT
    bool required; // missing or null is an error
    int64_t min;   // S_INT: bounds
    int64_t max;
    size_t max_len; // S_STR, S_NAME, S_STATE: bytes
    size_t at;      // where the value goes, S_MSG or S_SVC; 0: checked and placed by hand
} s_spec_t;

#define S_KEY(text) .key = text, .len = sizeof(text) - 1
//  A root field's place in zb_msg_t, a service's in zb_service_status_t
//  (S_F_NAME and after), plus one so that 0 can mean none. Integers go
//  into int64_t or uint64_t fields (their range is never negative there).
#define S_MSG(field) (offsetof(zb_msg_t, field) + 1)
#define S_SVC(field) (offsetof(zb_service_status_t, field) + 1)

static const s_spec_t s_specs[] = {
    [S_F_V] = {S_KEY("v"), S_INT, S_HEAD, true, 1, INT32_MAX, 0},
    [S_F_TYPE] = {S_KEY("type"), S_STR, S_HEAD, true, 0, 0, 7},
    [S_F_HOST] = {S_KEY("host"), S_NAME, S_HEAD, true, 0, 0, ZB_NAME_MAX, S_MSG(host)},
    [S_F_INSTANCE] = {S_KEY("instance"), S_STR, S_HEAD, true, 0, 0, ZB_INSTANCE_LEN,
                      S_MSG(instance)},
    [S_F_SEQ] = {S_KEY("seq"), S_INT, S_HEAD, true, 1, INT64_MAX, 0, S_MSG(seq)},
    [S_F_TIME_MS] = {S_KEY("time_ms"), S_INT, S_HEAD, true, 0, INT64_MAX, 0, S_MSG(time_ms)},
    [S_F_INTERVAL_MS] = {S_KEY("interval_ms"), S_INT, S_BEAT, true, 1, ZB_PROTO_INTERVAL_MAX_MS, 0,
                         S_MSG(interval_ms)},
    [S_F_DROPPED] = {S_KEY("dropped"), S_INT, S_BEAT, false, 0, INT64_MAX, 0, S_MSG(dropped)},
    [S_F_DIGEST] = {S_KEY("digest"), S_STR, S_BEAT, false, 0, 0, 16},
    //  Required, except in a thin beat (s_root_end).
    [S_F_SERVICES] = {S_KEY("services"), S_LIST, S_BEAT, true, 0, 0, 0},
    [S_F_SERVICE] = {S_KEY("service"), S_NAME, S_EVENT, false, 0, 0, ZB_NAME_MAX, S_MSG(service)},
    [S_F_FROM] = {S_KEY("from"), S_STATE, S_EVENT, true, 0, 0, 15},
    [S_F_TO] = {S_KEY("to"), S_STATE, S_EVENT, true, 0, 0, 15},
    [S_F_AT_MS] = {S_KEY("at_ms"), S_INT, S_EVENT, true, 0, INT64_MAX, 0, S_MSG(at_ms)},
    [S_F_REASON] = {S_KEY("reason"), S_STR, S_EVENT, false, 0, 0, ZB_REASON_MAX, S_MSG(reason)},
    [S_F_ERROR] = {S_KEY("error"), S_STR, S_EVENT, false, 0, 0, ZB_ERROR_MAX, S_MSG(error)},
    [S_F_NAME] = {S_KEY("name"), S_NAME, S_BEAT, true, 0, 0, ZB_NAME_MAX, S_SVC(name)},
    [S_F_KIND] = {S_KEY("kind"), S_STR, S_BEAT, false, 0, 0, ZB_KIND_MAX, S_SVC(kind)},
    [S_F_STATE] = {S_KEY("state"), S_STATE, S_BEAT, true, 0, 0, 15},
    [S_F_SINCE_MS] = {S_KEY("since_ms"), S_INT, S_BEAT, true, 0, INT64_MAX, 0, S_SVC(since_ms)},
    [S_F_RTT_US] = {S_KEY("rtt_us"), S_INT, S_BEAT, false, 0, INT64_MAX, 0, S_SVC(rtt_us)},
    [S_F_SVC_REASON] = {S_KEY("reason"), S_STR, S_BEAT, false, 0, 0, ZB_REASON_MAX, S_SVC(reason)},
    [S_F_SVC_ERROR] = {S_KEY("error"), S_STR, S_BEAT, false, 0, 0, ZB_ERROR_MAX, S_SVC(error)},
    [S_F_SVC_ADDR] = {S_KEY("addr"), S_STR, S_BEAT, false, 0, 0, ZB_ADDR_MAX, S_SVC(addr)},
    [S_F_SVC_CONTAINER] = {S_KEY("container"), S_STR, S_BEAT, false, 0, 0, ZB_CONTAINER_MAX,
                           S_SVC(container)},
    [S_F_SVC_TLS_EXPIRES] = {S_KEY("tls_expires"), S_STR, S_BEAT, false, 0, 0, 20},
    [S_F_ITEM] = {S_KEY(""), S_LIST, S_BEAT, false, 0, 0, 0},
};

#define S_BIT(field) (1u << (field))

#define S_KEY_SHOWN 39 // bytes of a duplicate key quoted in the message

//  Where the parse is.
typedef enum {
    S_AT_TOP,     // before the root object
    S_IN_ROOT,    // in the root object
    S_IN_LIST,    // in "services"
    S_IN_SERVICE, // in one of its objects
    S_IN_SKIP,    // in the value of a key we do not know
    S_AT_END      // after the root object
} s_level_t;

typedef struct {
    zb_msg_t *msg; // being filled
    char *err;     // the caller's
    size_t errsize;
    yajl_handle parser; // for byte positions in messages
    const char *topic;  // the first frame, checked against the body
    size_t topic_len;
    int types;             // root fields read: S_HEAD and the topic's type
    s_level_t level;       // where the parse is
    s_field_t field;       // whose value comes next
    int hint;              // the field last found: the next is likely after it
    zb_msg_type_t type;    // the body's, 0 until read
    int64_t version;       // "v", 0 until read
    uint32_t root_seen;    // S_BIT per root key present
    uint32_t root_have;    // and per value that was not null
    uint32_t service_seen; // the same for the current service
    uint32_t service_have;
    size_t services_hint;  // first allocation of services
    size_t depth;          // arrays and objects open
    size_t skip_depth;     // S_IN_SKIP: the depth the skipped value is at
    s_level_t skip_level;  // and where it returns to
    uint32_t objects_seen; // objects opened so far: the next one's id
    uint32_t *objects;     // [ZB_PROTO_MAX_DEPTH + 1]: the id of the object at each depth
    zb_keyset_t keys;      // unknown keys so far, for duplicates
} s_parse_t;

//  Writes "where.key: what" (or only what, for S_F_UNKNOWN) into err.
//  Returns 0, which stops yajl from a callback.
static int s_fail(s_parse_t *p, s_field_t field, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(s_parse_t *p, s_field_t field, const char *format, ...)
{
    char what[160];
    va_list args;
    va_start(args, format);
    vsnprintf(what, sizeof(what), format, args);
    va_end(args);
    if (field == S_F_UNKNOWN)
        snprintf(p->err, p->errsize, "%s", what);
    else if (field >= S_F_NAME)
        snprintf(p->err, p->errsize, "services[%zu]%s%s: %s", p->msg->service_count,
                 s_specs[field].len ? "." : "", s_specs[field].key, what);
    else
        snprintf(p->err, p->errsize, "%s: %s", s_specs[field].key, what);
    return 0;
}

//  A fault of the JSON itself, of the kind jansson refused while parsing:
//  "bad JSON at byte N: what".
static int s_bad_json(s_parse_t *p, const char *format, ...) __attribute__((format(printf, 2, 3)));

static int s_bad_json(s_parse_t *p, const char *format, ...)
{
    char what[160];
    va_list args;
    va_start(args, format);
    vsnprintf(what, sizeof(what), format, args);
    va_end(args);
    snprintf(p->err, p->errsize, "bad JSON at byte %zu: %s", yajl_get_bytes_consumed(p->parser),
             what);
    return 0;
}

//  Reads a number as jansson did: one without fraction or exponent is an
//  integer and must fit int64_t; any other is a real and must fit a double.
//  yajl's lexer has checked the grammar. Sets *integer and, for an integer,
//  *value.
static int s_number(s_parse_t *p, const char *text, size_t len, int64_t *value, bool *integer)
{
    bool negative = text[0] == '-';
    uint64_t n = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool overflow = false;
    size_t i = negative;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
        unsigned digit = (unsigned)(text[i] - '0');
        //  18 digits always fit: the division is only for longer numbers.
        if (i - negative >= 18)
            overflow |= n > (limit - digit) / 10;
        n = n * 10 + digit;
    }
    *integer = i == len;
    if (*integer) {
        if (overflow)
            return s_bad_json(p, negative ? "too big negative integer" : "too big integer");
        *value = !negative ? (int64_t)n : n > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)n;
        return 1;
    }
    //  strtod wants a terminated copy. The C locale is assumed: no zbeat
    //  program calls setlocale.
    char small[64];
    char *copy = len < sizeof(small) ? small : malloc(len + 1);
    if (!copy)
        return s_fail(p, S_F_UNKNOWN, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    errno = 0;
    double real = strtod(copy, NULL);
    bool huge = (real == HUGE_VAL || real == -HUGE_VAL) && errno == ERANGE;
    if (copy != small)
        free(copy);
    if (huge)
        return s_bad_json(p, "real number overflow");
    return 1;
}

//  Makes sure no other key of the innermost object is `key`.
static int s_key_unique(s_parse_t *p, const unsigned char *key, size_t len)
{
    int rc = zb_keyset_insert(&p->keys, p->objects[p->depth], key, len);
    if (rc == -1)
        return s_fail(p, S_F_UNKNOWN, "out of memory");
    if (rc == 0) {
        //  The key as printable ASCII: it goes into log lines.
        char shown[ZB_TEXT_PRINTABLE_MAX(S_KEY_SHOWN)];
        size_t n = len < S_KEY_SHOWN ? len : S_KEY_SHOWN;
        zb_text_printable((const char *)key, n, shown, sizeof(shown),
                          ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
        return s_bad_json(p, "duplicate key \"%s\"%s", shown, n < len ? "..." : "");
    }
    return 1;
}

//  The field of [first, end) that key names, if it is read in this message;
//  the search starts after the last one found, which is where the encoder
//  puts the next.
static s_field_t s_lookup(s_parse_t *p, const unsigned char *key, size_t len, int first, int end)
{
    int at = p->hint + 1 >= first && p->hint + 1 < end ? p->hint + 1 : first;
    for (int tried = first; tried < end; tried++) {
        const s_spec_t *spec = &s_specs[at];
        if (spec->len == len && memcmp(spec->key, key, len) == 0) {
            p->hint = at;
            return spec->types & p->types ? (s_field_t)at : S_F_UNKNOWN;
        }
        if (++at == end)
            at = first;
    }
    return S_F_UNKNOWN;
}

static int s_wrong_type(s_parse_t *p)
{
    switch (s_specs[p->field].kind) {
    case S_INT:
        return s_fail(p, p->field, "not an integer");
    case S_LIST:
        return s_fail(p, p->field, "missing or not an array");
    default:
        return s_fail(p, p->field, "not a string");
    }
}

static void s_have(s_parse_t *p)
{
    if (p->field >= S_F_NAME)
        p->service_have |= S_BIT(p->field);
    else
        p->root_have |= S_BIT(p->field);
}

static zb_service_status_t *s_service(s_parse_t *p)
{
    return &p->msg->services[p->msg->service_count];
}

//  Where the field's value goes (spec->at is not 0).
static void *s_place(s_parse_t *p, const s_spec_t *spec)
{
    char *base = p->field >= S_F_NAME ? (char *)s_service(p) : (char *)p->msg;
    return base + spec->at - 1;
}

static int s_put_int(s_parse_t *p, int64_t value, bool integer)
{
    const s_spec_t *spec = &s_specs[p->field];
    if (spec->kind != S_INT)
        return s_wrong_type(p);
    if (!integer)
        return s_fail(p, p->field, "not an integer");
    if (value < spec->min || value > spec->max)
        return s_fail(p, p->field, "%lld out of range", (long long)value);
    if (p->field == S_F_V) {
        if (value != ZB_PROTO_VERSION && value != ZB_PROTO_VERSION_THIN)
            return s_fail(p, S_F_UNKNOWN, "unsupported protocol version %lld", (long long)value);
        p->version = value;
    } else {
        assert(spec->at);
        memcpy(s_place(p, spec), &value, sizeof(value));
    }
    s_have(p);
    return 1;
}

static int s_put_string(s_parse_t *p, const unsigned char *text, size_t len)
{
    const s_spec_t *spec = &s_specs[p->field];
    zb_msg_t *msg = p->msg;
    char word[24]; // type and state names, tls_expires
    char *dest = spec->at ? s_place(p, spec) : word;
    if (spec->kind == S_INT || spec->kind == S_LIST)
        return s_wrong_type(p);
    if (len > spec->max_len)
        return s_fail(p, p->field, "longer than %zu bytes", spec->max_len);
    //  zb_json_scan has refused U+0000, so dest holds the whole string.
    memcpy(dest, text, len);
    dest[len] = '\0';
    if (spec->kind == S_NAME && (spec->required || len) && !zb_name_valid(dest))
        return s_fail(p, p->field, "invalid name");
    if (spec->kind == S_STATE) {
        zb_state_t state;
        if (zb_state_parse(word, &state) != 0)
            return s_fail(p, p->field, "unknown state");
        if (p->field == S_F_FROM)
            msg->from = state;
        else if (p->field == S_F_TO)
            msg->to = state;
        else
            s_service(p)->state = state;
    }
    if (p->field == S_F_SVC_TLS_EXPIRES &&
        zb_time_parse_rfc3339(word, &s_service(p)->tls_expires) == -1)
        return s_fail(p, p->field, "not an RFC 3339 UTC time (2027-01-31T23:59:59Z)");
    if (p->field == S_F_TYPE) {
        if (strcmp(word, "beat") != 0 && strcmp(word, "event") != 0)
            return s_fail(p, S_F_TYPE, "unknown message type");
        p->type = word[0] == 'b' ? ZB_MSG_BEAT : ZB_MSG_EVENT;
    }
    if (p->field == S_F_DIGEST) {
        if (len != 16 || strspn(word, "0123456789abcdef") != 16)
            return s_fail(p, S_F_DIGEST, "not 16 lowercase hex digits");
        msg->digest = strtoull(word, NULL, 16);
        msg->has_digest = true;
    }
    if (p->field == S_F_INSTANCE &&
        (len != ZB_INSTANCE_LEN || strspn(dest, "0123456789abcdef") != ZB_INSTANCE_LEN))
        return s_fail(p, S_F_INSTANCE, "not %d lowercase hex digits", ZB_INSTANCE_LEN);
    s_have(p);
    return 1;
}

//  Where a scalar value goes: 1 into p->field, 0 nowhere (it belongs to
//  a key we do not know), -1 it is an error (set).
static int s_scalar(s_parse_t *p)
{
    if (p->depth >= ZB_PROTO_MAX_DEPTH) {
        s_bad_json(p, "maximum parsing depth reached");
        return -1;
    }
    switch (p->level) {
    case S_IN_ROOT:
    case S_IN_SERVICE:
        return p->field != S_F_UNKNOWN;
    case S_IN_SKIP:
        return 0;
    case S_IN_LIST:
        s_fail(p, S_F_ITEM, "not an object");
        return -1;
    default:
        s_fail(p, S_F_UNKNOWN, "not a JSON object");
        return -1;
    }
}

static int s_on_null(void *arg)
{
    //  A null is as good as a missing key.
    return s_scalar(arg) >= 0;
}

static int s_on_boolean(void *arg, int value)
{
    (void)value;
    int slot = s_scalar(arg);
    return slot == 1 ? s_wrong_type(arg) : slot == 0;
}

static int s_on_number(void *arg, const char *text, size_t len)
{
    int64_t value = 0;
    bool integer;
    int slot = s_scalar(arg);
    if (slot < 0 || !s_number(arg, text, len, &value, &integer))
        return 0;
    return slot == 1 ? s_put_int(arg, value, integer) : 1;
}

static int s_on_string(void *arg, const unsigned char *text, size_t len)
{
    int slot = s_scalar(arg);
    return slot == 1 ? s_put_string(arg, text, len) : slot == 0;
}

//  An array or object starts as the value of p->field.
static int s_container(s_parse_t *p)
{
    if (p->field != S_F_UNKNOWN)
        return s_wrong_type(p);
    p->skip_level = p->level;
    p->skip_depth = p->depth;
    p->level = S_IN_SKIP;
    return 1;
}

static int s_on_start_map(void *arg)
{
    s_parse_t *p = arg;
    zb_msg_t *msg = p->msg;
    if (p->depth >= ZB_PROTO_MAX_DEPTH)
        return s_bad_json(p, "maximum parsing depth reached");
    switch (p->level) {
    case S_AT_TOP:
        p->level = S_IN_ROOT;
        break;
    case S_IN_LIST:
        if (msg->service_count >= ZB_PROTO_MAX_SERVICES)
            return s_fail(p, S_F_SERVICES, "more than %d", ZB_PROTO_MAX_SERVICES);
        if (msg->service_count == msg->service_alloc) {
            size_t alloc = msg->service_alloc ? 2 * msg->service_alloc : p->services_hint;
            if (alloc > ZB_PROTO_MAX_SERVICES)
                alloc = ZB_PROTO_MAX_SERVICES;
            zb_service_status_t *services = realloc(msg->services, alloc * sizeof(*services));
            if (!services)
                return s_fail(p, S_F_SERVICES, "out of memory");
            msg->services = services;
            msg->service_alloc = alloc;
        }
        zb_service_status_t *service = s_service(p);
        memset(service, 0, sizeof(*service));
        service->rtt_us = -1;
        p->service_seen = p->service_have = 0;
        p->level = S_IN_SERVICE;
        break;
    case S_IN_ROOT:
    case S_IN_SERVICE:
        if (!s_container(p))
            return 0;
        break;
    default:
        break;
    }
    p->objects[++p->depth] = ++p->objects_seen;
    return 1;
}

static int s_on_start_array(void *arg)
{
    s_parse_t *p = arg;
    if (p->depth >= ZB_PROTO_MAX_DEPTH)
        return s_bad_json(p, "maximum parsing depth reached");
    switch (p->level) {
    case S_AT_TOP:
        return s_fail(p, S_F_UNKNOWN, "not a JSON object");
    case S_IN_LIST:
        return s_fail(p, S_F_ITEM, "not an object");
    case S_IN_ROOT:
    case S_IN_SERVICE:
        if (p->level == S_IN_ROOT && p->field == S_F_SERVICES)
            p->level = S_IN_LIST;
        else if (!s_container(p))
            return 0;
        break;
    default:
        break;
    }
    p->depth++;
    return 1;
}

static int s_on_key(void *arg, const unsigned char *key, size_t len)
{
    s_parse_t *p = arg;
    uint32_t *seen = &p->root_seen;
    if (p->level == S_IN_ROOT)
        p->field = s_lookup(p, key, len, 0, S_F_NAME);
    else if (p->level == S_IN_SERVICE) {
        p->field = s_lookup(p, key, len, S_F_NAME, S_F_ITEM);
        seen = &p->service_seen;
    } else
        return s_key_unique(p, key, len);
    if (p->field == S_F_UNKNOWN)
        return s_key_unique(p, key, len);
    if (*seen & S_BIT(p->field)) {
        if (p->field >= S_F_NAME)
            return s_bad_json(p, "duplicate key \"services[%zu].%s\"", p->msg->service_count,
                              s_specs[p->field].key);
        return s_bad_json(p, "duplicate key \"%s\"", s_specs[p->field].key);
    }
    *seen |= S_BIT(p->field);
    return 1;
}

//  The root object is complete: what must be there, in the order the tree
//  decoder checked it.
static int s_root_end(s_parse_t *p)
{
    zb_msg_t *msg = p->msg;
    for (s_field_t f = S_F_V; f <= S_F_TIME_MS; f++)
        if (!(p->root_have & S_BIT(f)))
            return s_fail(p, f, "missing");
    //  The topic must say what the body says: subscribers filter on it.
    const char *type = p->type == ZB_MSG_BEAT ? "beat" : "event";
    size_t type_len = strlen(type), host_len = strlen(msg->host);
    if (p->topic_len != type_len + 1 + host_len || memcmp(p->topic, type, type_len) != 0 ||
        p->topic[type_len] != '.' || memcmp(p->topic + type_len + 1, msg->host, host_len) != 0)
        return s_fail(p, S_F_UNKNOWN, "topic does not match type and host");
    int body = p->type == ZB_MSG_BEAT ? S_BEAT : S_EVENT;
    //  A v2 beat without services is thin: its digest stands for them.
    bool thin = p->type == ZB_MSG_BEAT && p->version == ZB_PROTO_VERSION_THIN &&
                !(p->root_seen & S_BIT(S_F_SERVICES));
    for (s_field_t f = S_F_INTERVAL_MS; f < S_F_NAME; f++)
        if ((s_specs[f].types & body) && s_specs[f].required && !(p->root_have & S_BIT(f)) &&
            !(thin && f == S_F_SERVICES))
            return s_fail(p, f, s_specs[f].kind == S_LIST ? "missing or not an array" : "missing");
    if (thin && !msg->has_digest)
        return s_fail(p, S_F_DIGEST, "missing (a thin beat)");
    msg->thin = thin;
    if (p->type == ZB_MSG_EVENT && !msg->service[0] && msg->to != ZB_STATE_STOPPED)
        return s_fail(p, S_F_TO, "a host event must go to stopped");
    msg->type = p->type;
    p->level = S_AT_END;
    return 1;
}

static int s_on_end_map(void *arg)
{
    s_parse_t *p = arg;
    p->depth--;
    switch (p->level) {
    case S_IN_ROOT:
        return s_root_end(p);
    case S_IN_SERVICE:
        for (s_field_t f = S_F_NAME; f < S_F_ITEM; f++)
            if (s_specs[f].required && !(p->service_have & S_BIT(f)))
                return s_fail(p, f, "missing");
        if (s_service(p)->state == ZB_STATE_REMOVED)
            return s_fail(p, S_F_STATE, "removed is for events only");
        p->msg->service_count++;
        p->level = S_IN_LIST;
        return 1;
    default: // S_IN_SKIP
        if (p->depth == p->skip_depth)
            p->level = p->skip_level;
        return 1;
    }
}

static int s_on_end_array(void *arg)
{
    s_parse_t *p = arg;
    p->depth--;
    if (p->level == S_IN_LIST) {
        p->root_have |= S_BIT(S_F_SERVICES);
        p->level = S_IN_ROOT;
    } else if (p->depth == p->skip_depth) // S_IN_SKIP
        p->level = p->skip_level;
    return 1;
}

static const yajl_callbacks s_callbacks = {
    .yajl_null = s_on_null,
    .yajl_boolean = s_on_boolean,
    .yajl_number = s_on_number, // every number as text: we range-check them
    .yajl_string = s_on_string,
    .yajl_start_map = s_on_start_map,
    .yajl_map_key = s_on_key,
    .yajl_end_map = s_on_end_map,
    .yajl_start_array = s_on_start_array,
    .yajl_end_array = s_on_end_array,
};

zb_msg_t *zb_msg_decode_general(const void *topic, size_t topic_len, const void *json,
                                size_t json_len, char *err, size_t errsize)
{
    uint32_t objects[ZB_PROTO_MAX_DEPTH + 1];
    s_parse_t p = {.err = err,
                   .errsize = errsize,
                   .topic = topic,
                   .topic_len = topic_len,
                   .types = S_HEAD,
                   .field = S_F_UNKNOWN,
                   .hint = -1,
                   .objects = objects};
    zb_msg_t *result = NULL;
    const unsigned char *text = json;

    if (topic_len > ZB_PROTO_MAX_TOPIC || json_len > ZB_PROTO_MAX_BYTES) {
        snprintf(err, errsize, "message too large");
        goto done;
    }
    if (zb_json_scan(text, json_len, err, errsize) == -1)
        goto done;
    //  The body is read as the topic's type says. When the body's "type"
    //  says otherwise, or the topic neither, the message fails the topic
    //  check; the body's own fields are then not looked at (as before).
    zb_msg_type_t type = 0;
    if (topic_len > 5 && memcmp(topic, "beat.", 5) == 0)
        type = ZB_MSG_BEAT;
    else if (topic_len > 6 && memcmp(topic, "event.", 6) == 0)
        type = ZB_MSG_EVENT;
    p.types |= type == ZB_MSG_BEAT ? S_BEAT : type == ZB_MSG_EVENT ? S_EVENT : 0;
    //  The first allocation of services: services take about 100 bytes of
    //  JSON each, so most beats need no other.
    p.services_hint = json_len / 96 < 4 ? 4 : json_len / 96;
    p.msg = zb_msg_new(type ? type : ZB_MSG_BEAT);
    p.parser = yajl_alloc(&s_callbacks, NULL, &p);
    if (!p.msg || !p.parser) {
        snprintf(err, errsize, "out of memory");
        goto done;
    }
    //  zb_json_scan has checked the UTF-8; what follows the root is checked below.
    yajl_config(p.parser, yajl_dont_validate_strings, 1);
    yajl_config(p.parser, yajl_allow_trailing_garbage, 1);
    yajl_status status = yajl_parse(p.parser, text, json_len);
    size_t at = yajl_get_bytes_consumed(p.parser);
    //  Unless the root is complete the text ended early, or it is a
    //  number, which yajl holds back until it knows the number has ended.
    if (status == yajl_status_ok && p.level != S_AT_END) {
        status = yajl_complete_parse(p.parser);
        at = json_len;
    }
    if (status == yajl_status_error) {
        unsigned char *what = yajl_get_error(p.parser, 0, NULL, 0);
        snprintf(err, errsize, "bad JSON at byte %zu: %.*s", at,
                 what ? (int)strcspn((char *)what, "\n") : 0, what ? (char *)what : "");
        if (what)
            yajl_free_error(p.parser, what);
        goto done;
    }
    if (status != yajl_status_ok) // a callback has said why
        goto done;
    if (p.level != S_AT_END) {
        snprintf(err, errsize, "bad JSON at byte %zu: premature end of input", json_len);
        goto done;
    }
    //  With trailing garbage allowed, yajl stopped right after the root;
    //  only JSON's whitespace may follow.
    for (; at < json_len; at++) {
        if (text[at] != ' ' && text[at] != '\t' && text[at] != '\n' && text[at] != '\r') {
            snprintf(err, errsize, "bad JSON at byte %zu: end of file expected", at);
            goto done;
        }
    }
    result = p.msg;
    p.msg = NULL;
done:
    if (p.parser)
        yajl_free(p.parser);
    zb_keyset_clear(&p.keys);
    zb_msg_destroy(&p.msg);
    return result;
}

zb_msg_t *zb_msg_decode(const void *topic, size_t topic_len, const void *json, size_t json_len,
                        char *err, size_t errsize)
{
    zb_msg_t *msg = zb_msg_decode_thin(topic, topic_len, json, json_len);
    return msg ? msg : zb_msg_decode_general(topic, topic_len, json, json_len, err, errsize);
}
