/*  zb_proto: wire protocol v1 between agents and monitors (docs/protocol.md).

    A message is two ZeroMQ frames: a topic ("beat.<host>", "event.<host>")
    and a JSON document. zb_msg_t is the decoded form of either kind; the
    encoder and the strict decoder live here so agents, monitors and tests
    agree on one definition.

    The decoder never trusts its input: every length, count and name is
    bounded and checked, unknown fields are ignored (so later versions can add
    fields), and anything malformed yields NULL plus a message, never a crash.
*/
#ifndef ZB_PROTO_H
#define ZB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_PROTO_VERSION 1
#define ZB_PROTO_MAX_BYTES (4 * 1024 * 1024) // one JSON frame
#define ZB_PROTO_MAX_TOPIC 128
#define ZB_PROTO_MAX_SERVICES 16384 // per beat
//  jansson's JSON_PARSER_MAX_DEPTH, kept: a value may sit at most this deep,
//  the root object being at depth 1.
#define ZB_PROTO_MAX_DEPTH 2048
#define ZB_NAME_MAX 64     // host and service names
#define ZB_INSTANCE_LEN 16 // hex characters
#define ZB_REASON_MAX 32
#define ZB_ERROR_MAX 200
#define ZB_KIND_MAX 16
#define ZB_ADDR_MAX 64 // "[IPv6]:port"

typedef enum {
    ZB_STATE_UNKNOWN = 0, // no verdict yet, or the host is silent
    ZB_STATE_UP,
    ZB_STATE_DOWN,
    ZB_STATE_STOPPED, // stopped on purpose (agent stop, push BYE): no outage
    ZB_STATE_REMOVED  // events only: the service is no longer watched
} zb_state_t;

typedef enum { ZB_MSG_BEAT = 1, ZB_MSG_EVENT = 2 } zb_msg_type_t;

//  One service as a beat reports it.
typedef struct {
    char name[ZB_NAME_MAX + 1];
    char kind[ZB_KIND_MAX + 1]; // "probe", "push", "ttl"; may be empty
    zb_state_t state;
    int64_t since_ms;               // wall clock: when it entered this state
    int64_t rtt_us;                 // last round trip, -1 when none
    char reason[ZB_REASON_MAX + 1]; // why it is in this state; may be empty
    char error[ZB_ERROR_MAX + 1];   // last error text; may be empty
    char addr[ZB_ADDR_MAX + 1];     // probes: the address in use; may be empty
} zb_service_status_t;

typedef struct {
    zb_msg_type_t type;
    char host[ZB_NAME_MAX + 1];
    char instance[ZB_INSTANCE_LEN + 1]; // random per agent start
    uint64_t seq;                       // per instance, +1 per message, from 1
    int64_t time_ms;                    // agent wall clock at send

    //  Beat
    int64_t interval_ms; // the agent's beat interval
    uint64_t dropped;    // messages this instance could not send (HWM)
    size_t service_count;
    size_t service_alloc;
    zb_service_status_t *services; // owned

    //  Event. service is empty for a host event (the agent stopping).
    char service[ZB_NAME_MAX + 1];
    zb_state_t from;
    zb_state_t to;
    int64_t at_ms;
    char reason[ZB_REASON_MAX + 1];
    char error[ZB_ERROR_MAX + 1];
} zb_msg_t;

//  Names of hosts and services: 1..64 of [A-Za-z0-9._-], starting with a
//  letter or digit. Anything else is refused at the edge.
bool zb_name_valid(const char *name);

const char *zb_state_name(zb_state_t state);
//  Returns 0 and sets *state, or -1 for an unknown name.
int zb_state_parse(const char *name, zb_state_t *state);

zb_msg_t *zb_msg_new(zb_msg_type_t type);
void zb_msg_destroy(zb_msg_t **self_p);

//  Appends a service to a beat. Returns -1 at ZB_PROTO_MAX_SERVICES or when
//  out of memory.
int zb_msg_add_service(zb_msg_t *self, const zb_service_status_t *service);

//  Encodes into a topic and a JSON text, both heap strings the caller frees.
//  Over-long error texts are truncated. Returns 0, or -1 with *err set.
int zb_msg_encode(const zb_msg_t *self, char **topic_p, char **json_p, char *err, size_t errsize);

//  A beat's services one at a time: returns the status of service `index`
//  (0 to count - 1), valid until the next call.
typedef const zb_service_status_t *(zb_msg_service_fn)(void *arg, size_t index);

//  Encodes a beat whose `count` services come from fn(arg, i) instead of
//  self->services, which is ignored. The header is encoded first and each
//  service on its own, appended to one buffer, so that the peak is one
//  service's jansson document, not one for all of them, and the caller
//  needs no copy of every status. The text is the same as zb_msg_encode
//  makes (which encodes beats this way). *json_p is NUL-terminated and
//  *json_len_p (may be NULL) gets its length. Returns 0, or -1 with *err
//  set (more than ZB_PROTO_MAX_SERVICES, too large, out of memory).
int zb_msg_encode_beat(const zb_msg_t *self, size_t count, zb_msg_service_fn *fn, void *arg,
                       char **topic_p, char **json_p, size_t *json_len_p, char *err,
                       size_t errsize);

//  Like zb_msg_send for such a beat; the JSON frame goes to ZeroMQ without
//  a copy.
int zb_msg_send_beat(const zb_msg_t *self, size_t count, zb_msg_service_fn *fn, void *arg,
                     void *zsock);

//  Decodes one message; topic and json need not be NUL-terminated. Returns a
//  new message, or NULL with a one-line reason in err.
zb_msg_t *zb_msg_decode(const void *topic, size_t topic_len, const void *json, size_t json_len,
                        char *err, size_t errsize);

//  Sends the message as two frames without blocking. Returns 0 when handed
//  to ZeroMQ, -1 when the socket would block (HWM) or encoding failed.
int zb_msg_send(const zb_msg_t *self, void *zsock);

//  Receives one multipart message from a czmq socket and decodes it.
//  Returns 0 with *msg_p set; -1 with a reason in err when the message was
//  malformed (it is consumed and dropped); -2 when nothing could be read
//  (interrupted, or nothing waiting with ZMQ_DONTWAIT semantics).
int zb_msg_recv(void *zsock, zb_msg_t **msg_p, char *err, size_t errsize);

//  Like zb_msg_recv but never blocks: returns -2 when no message is waiting.
int zb_msg_recv_nowait(void *zsock, zb_msg_t **msg_p, char *err, size_t errsize);

//  Like zb_msg_recv_nowait, and also copies the connection's "User-Id"
//  (the CURVE key a ZAP handler admitted, Z85) into user_id, "" when none.
//  It is set whenever a message was read, malformed or not.
int zb_msg_recv_nowait_user(void *zsock, zb_msg_t **msg_p, char *user_id, size_t user_id_size,
                            char *err, size_t errsize);

void zb_proto_test(bool verbose);

#endif
