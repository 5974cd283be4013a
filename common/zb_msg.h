/*  zb_msg: a message of wire protocol v1 (docs/protocol.md), decoded: a
    beat or an event, with the limits every field is held to. Encoding,
    decoding and sockets are in zb_proto.h.
*/
#ifndef ZB_MSG_H
#define ZB_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_PROTO_VERSION 1 // events and full beats
//  Thin beats (no services, a digest of them): what v1 receivers cannot read.
#define ZB_PROTO_VERSION_THIN 2
#define ZB_PROTO_MAX_BYTES (4 * 1024 * 1024) // one JSON frame
#define ZB_PROTO_MAX_TOPIC 128
#define ZB_PROTO_MAX_SERVICES 16384 // per beat
//  jansson's JSON_PARSER_MAX_DEPTH, kept: a value may sit at most this deep,
//  the root object being at depth 1.
#define ZB_PROTO_MAX_DEPTH 2048
#define ZB_NAME_MAX 64                    // host and service names
#define ZB_PROTO_INTERVAL_MAX_MS 86400000 // a beat interval, at most (a day)
#define ZB_INSTANCE_LEN 16                // hex characters
#define ZB_REASON_MAX 32
#define ZB_ERROR_MAX 200
#define ZB_KIND_MAX 16
#define ZB_ADDR_MAX 64      // "[IPv6]:port"
#define ZB_CONTAINER_MAX 64 // a container id (agents send its first 12 hex digits)

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
    int64_t since_ms;                     // wall clock: when it entered this state
    int64_t rtt_us;                       // last round trip, -1 when none
    char reason[ZB_REASON_MAX + 1];       // why it is in this state; may be empty
    char error[ZB_ERROR_MAX + 1];         // last error text; may be empty
    char addr[ZB_ADDR_MAX + 1];           // probes: the address in use; may be empty
    char container[ZB_CONTAINER_MAX + 1]; // kind "docker": the container id; may be empty
    int64_t tls_expires; // TLS probes: peer certificate's notAfter (Unix s), 0 none
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
    //  Protocol v2 (docs/protocol.md, "Thin beats"): a thin beat has no
    //  services, only the digest of the agent's table; a full beat from an
    //  agent that sends thin beats carries the digest too.
    bool thin;
    bool has_digest;
    uint64_t digest;
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

//  The digest of a service table (protocol v2): every field of every
//  service, in order, except the round trip (which moves with every check
//  and is not "a change"). 64-bit FNV-1a over a canonical form: start from
//  ZB_MSG_DIGEST_INIT and add the services one after another. It detects
//  change, it does not authenticate (an agent can claim anything anyway).
#define ZB_MSG_DIGEST_INIT 14695981039346656037ULL
uint64_t zb_msg_digest_add(uint64_t digest, const zb_service_status_t *service);

//  Whether two messages say the same, field by field and service by service
//  (what tests compare two decoders or a round trip with).
bool zb_msg_same(const zb_msg_t *a, const zb_msg_t *b);

//  Appends a service to a beat. Returns -1 at ZB_PROTO_MAX_SERVICES or when
//  out of memory.
int zb_msg_add_service(zb_msg_t *self, const zb_service_status_t *service);

#endif
