/*  zb_curve: the agent's CURVE keys (docs/security.md).

    agent/cert names this agent's secret certificate (zbeat keygen writes
    HOST.cert_secret) and agent/monitor-cert the monitor's public one. With
    both, the agent's PUB socket is a CURVE client: its messages are
    encrypted, and the monitor admits it only when its public key is in the
    monitor's allow-list, bound to this agent's host name.

    The keys are read once, when the configuration is, so a bad file is a
    configuration error (exit 2), not a refused connection found later.
*/
#ifndef ZB_CURVE_H
#define ZB_CURVE_H

#include "zb_proto.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#define ZB_CURVE_KEY_LEN 40 // Z85

typedef struct {
    bool on; // agent/cert and agent/monitor-cert given
    char public_key[ZB_CURVE_KEY_LEN + 1];
    char secret_key[ZB_CURVE_KEY_LEN + 1];
    char server_key[ZB_CURVE_KEY_LEN + 1]; // the monitor's public key
    char host[ZB_NAME_MAX + 1];            // "host" in the certificate's metadata, "" if none
} zb_curve_keys_t;

//  Loads this agent's secret certificate and the monitor's public one.
//  Returns 0, or -1 with the reason in why (about `cert` when which is 0,
//  about `monitor_cert` when it is 1).
int zb_curve_load(const char *cert, const char *monitor_cert, zb_curve_keys_t *keys, int *which,
                  char *why, size_t whysize);

//  Makes sock a CURVE client with keys; nothing when keys->on is false.
//  Before connecting: ZeroMQ applies the keys to connections made later.
void zb_curve_apply(const zb_curve_keys_t *keys, zsock_t *sock);

//  True when two sets of keys are the same (for reloads).
bool zb_curve_same(const zb_curve_keys_t *a, const zb_curve_keys_t *b);

void zb_curve_test(bool verbose);

#endif
