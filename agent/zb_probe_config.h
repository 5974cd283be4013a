/*  zb_probe_config: what one probe is told to check (a service's `probe`
    settings, filled in by zb_agent_config), and how its reply is judged.

    Its own header so that the parts of a probe (zb_probe the connection's
    state machine, zb_expect the reply's judge, zb_check the one-off check)
    share the configuration without including each other.
*/
#ifndef ZB_PROBE_CONFIG_H
#define ZB_PROBE_CONFIG_H

#include "zb_http_reply.h"
#include "zb_net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_PROBE_SEND_MAX 1024  // bytes of a ping
#define ZB_PROBE_EXPECT_MAX 256 // bytes of an expected reply prefix
#define ZB_PROBE_TARGET_MAX 299 // bytes of "host:port"

//  How a reply is judged.
typedef enum {
    ZB_PROBE_REPLY_PREFIX = 0, // starts with expect (any bytes when expect is empty)
    ZB_PROBE_REPLY_PG_SSL,     // PostgreSQL's answer to an SSLRequest: one byte, S or N
                               // (then G or N to the GSSENCRequest that follows an S)
    ZB_PROBE_REPLY_HTTP,       // an HTTP/1.1 response (send is the request, expect the body text)
    ZB_PROBE_REPLY_GREETING,   // the server speaks first: expect starts its greeting; send
                               // (may be empty) is the goodbye, sent before the close
    ZB_PROBE_REPLY_MYSQL       // a MySQL/MariaDB greeting packet (protocol 10), then close
} zb_probe_reply_t;

//  name, target, send and expect point to text sized to its content (an
//  agent holds thousands of configs): whoever fills a config in owns them
//  and keeps them as long as the config (zb_agent_config frees its own).
typedef struct {
    const char *name;          // the service; "" for a probe of no service
    const char *target;        // "host:port" as configured, for messages
    const char *host;          // its host part: a name, or a literal address
    int port;                  // its port
    bool literal;              // host is an address (addr): nothing to resolve
    zb_net_addr_t addr;        // the literal address; zeroed for a name
    int64_t resolve_ms;        // names: look up again this often; 0: the answer's TTL
    bool hold;                 // keep the connection open between checks
    bool listener_check;       // hold: also connect afresh beside each ping (refused: down)
    const char *send;          // send_len bytes; never NULL, "" when unset
    size_t send_len;           // 0: connection-only check
    const char *expect;        // expect_len bytes; never NULL, "" when unset
    size_t expect_len;         // 0: any reply byte will do
    zb_probe_reply_t reply;    // how the reply is judged (check = postgres)
    int64_t interval_ms;       // between checks
    int64_t timeout_ms;        // for a connect or a reply; < interval_ms
    int fails;                 // consecutive failures before down
    bool tls;                  // a TLS handshake on every connect, pings inside the session
    bool tls_verify;           // the chain and the name are verified
    const char *tls_ca;        // CA file; never NULL, "" for the system's store
    const char *tls_name;      // SNI and the name verified; never NULL, "" for host
    bool http_head;            // HTTP: the request is HEAD (no body in the response)
    uint8_t expect_ranges;     // HTTP: how many in expect_codes (1 or more)
    const char *expect_status; // HTTP: codes, ranges and classes as given; never NULL
    const zb_http_status_range_t *expect_codes; // HTTP: expect_status compiled, or NULL
    const uint8_t *expect_fail; // HTTP: expect's search table (zb_http_body_table), or NULL
} zb_probe_config_t;

#endif
