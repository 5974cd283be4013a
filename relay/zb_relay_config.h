/*  zb_relay_config: zbeat-relay's settings, from defaults, a ZPL file and
    flags (in rising precedence). docs/config-relay.md.
*/
#ifndef ZB_RELAY_CONFIG_H
#define ZB_RELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define ZB_RELAY_BIND_DEFAULT "tcp://*:7410"

typedef struct {
    char bind[1024];         // where agents connect (the XSUB binds), comma-separated
    char monitor[4096];      // the monitors' monitor/bind endpoints (the XPUB connects)
    char cert[4096];         // the relay's secret certificate: CURVE on both sides; "" = plaintext
    char agents[4096];       // directory of admitted agents' public certificates (zb_auth)
    char monitor_cert[4096]; // the monitors' public certificate (the relay is their client)
} zb_relay_config_t;

void zb_relay_config_defaults(zb_relay_config_t *self);

//  Overlays the file's settings. Returns 0, or -1 with one line for the user
//  in err: "FILE:LINE: message" or "FILE: relay/key: message".
int zb_relay_config_load(zb_relay_config_t *self, const char *path, char *err, size_t errsize);

//  Flags: `what` names the source in err ("--bind").
int zb_relay_config_set_bind(zb_relay_config_t *self, const char *value, const char *what,
                             char *err, size_t errsize);
int zb_relay_config_set_monitor(zb_relay_config_t *self, const char *value, const char *what,
                                char *err, size_t errsize);

//  What must hold once every layer is in: a monitor to relay to. Returns 0,
//  or -1 with one line in err.
int zb_relay_config_check(const zb_relay_config_t *self, char *err, size_t errsize);

//  Prints the docs' cells of every key of the relay section, one line each
//  ("relay\tKEY\tTYPE\tDEFAULT\tBOUNDS"): `zbeat-relay --config-table`, for
//  scripts/config_docs.py.
void zb_relay_config_print_table(FILE *out);

void zb_relay_config_test(bool verbose);

#endif
