/*  zb_auth: who may report to this monitor (docs/security.md).

    With monitor/cert set, the agents' socket is a CURVE server and czmq's
    zauth actor answers its ZAP requests from the allow-list directory
    monitor/agents: an agent is admitted at the handshake only when its
    public key is in a certificate file there. zauth's certificate store
    re-reads the directory when it changes, so a new file admits and a
    removed one refuses, from the next handshake on, without a restart.

    ZAP runs only at the handshake, and a connection, once admitted, stays
    open. So this module keeps its own copy of the allow-list, re-read
    within ZB_AUTH_RESCAN_MS of any change, and checks every message: the
    key its connection was admitted with ("User-Id") must still be listed,
    and the host the message names must be the "host" in that key's
    certificate. A revoked key stops counting within a second even on a
    connection that stays open, and an admitted agent cannot speak for
    another host. Both kinds of refusal are counted and logged.

    Without monitor/cert every message is accepted (plaintext), and a clear
    warning is logged when the socket listens beyond loopback.
*/
#ifndef ZB_AUTH_H
#define ZB_AUTH_H

#include "zb_config.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_AUTH_RESCAN_MS 1000    // allow-list change detection period
#define ZB_AUTH_HANDSHAKE_MS 5000 // ZMQ_HANDSHAKE_IVL: a peer that stalls its handshake is dropped
#define ZB_AUTH_LOG_MS 10000      // at most one warning per kind of refusal this often
#define ZB_AUTH_KEY_LEN 40        // a CURVE public key in Z85
#define ZB_AUTH_SOCKETS_MAX 4     // sockets secured by one zb_auth: the SUB and the replay ROUTER

typedef struct _zb_auth_t zb_auth_t;

typedef struct {
    uint64_t forged;           // messages naming a host other than their key's
    uint64_t revoked;          // messages whose key is not (or no longer) listed
    uint64_t refused;          // handshakes refused by ZAP (key not listed)
    uint64_t handshake_errors; // other failed handshakes (not ZeroMQ, wrong server key)
    size_t keys;               // keys in the allow-list now
} zb_auth_stats_t;

//  Reads monitor/cert (a secret certificate that loads) and monitor/agents
//  (an existing directory) from section (may be NULL) into the buffers;
//  records the first problem in config. Both or neither must be given.
void zb_auth_config_load(zb_config_t *config, zconfig_t *section, char *cert, size_t cert_size,
                         char *agents, size_t agents_size);

//  Sets up authentication of sock, which must not be bound yet: with cert
//  ("" for plaintext), starts zauth on the agents directory and makes sock
//  a CURVE server. bind (the endpoints sock will bind) is only looked at for
//  the plaintext warning. Returns NULL with one line in err.
zb_auth_t *zb_auth_new(zsock_t *sock, const char *cert, const char *agents, const char *bind,
                       char *err, size_t errsize);
//  After the loop it was attached to (its readers go with the loop), before
//  the sockets it watches.
void zb_auth_destroy(zb_auth_t **self_p);

//  Secures another socket that takes agents' messages (the replay ROUTER)
//  like the first: the same server key, the same ZAP handler (so the same
//  allow-list), the same handshake timeout, its failed handshakes counted
//  and logged with the first socket's; call zb_auth_check on its messages
//  too. Before it binds. Without CURVE: the timeout, the handshake watch,
//  and the plaintext warning for every endpoint of bind beyond loopback.
//  Returns 0, or -1 with one line in err. Call zb_auth_forget before the
//  socket is destroyed.
int zb_auth_secure(zb_auth_t *self, zsock_t *sock, const char *bind, char *err, size_t errsize);

//  Stops watching a socket given to zb_auth_secure (before it goes).
void zb_auth_forget(zb_auth_t *self, zsock_t *sock);

//  Registers the allow-list rescan timer and the handshake-failure readers
//  (of sockets secured later too). Returns 0 or -1.
int zb_auth_attach(zb_auth_t *self, zloop_t *loop);

//  One decoded message's host, and the key its connection was admitted with
//  (zb_msg_recv_nowait_user). Returns 0 to accept it, -1 when it is refused
//  (counted, and logged at most every ZB_AUTH_LOG_MS). Always 0 without
//  CURVE.
int zb_auth_check(zb_auth_t *self, const char *user_id, const char *host);

bool zb_auth_enabled(zb_auth_t *self);

//  Liveness datagrams (zb_pulse): true when key (a raw 32-byte public key)
//  is in the allow-list and bound to host. Neither counted nor logged (the
//  caller counts its own refusals).
bool zb_auth_key_bound(zb_auth_t *self, const uint8_t *key, const char *host);
//  The monitor's raw 32-byte secret key, NULL without CURVE.
const uint8_t *zb_auth_secret(zb_auth_t *self);
void zb_auth_stats(zb_auth_t *self, zb_auth_stats_t *stats);
//  Reads the allow-list directory now rather than at the next periodic
//  rescan (the self-test's revocation).
void zb_auth_rescan(zb_auth_t *self);

//  True when an endpoint is reachable only from this machine: loopback tcp,
//  ipc, inproc.
bool zb_auth_endpoint_local(const char *endpoint);

void zb_auth_test(bool verbose);

#endif
