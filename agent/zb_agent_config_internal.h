/*  zb_agent_config_internal: what zb_agent_config.c shares with
    zb_agent_config_keys.c (the key readers: errors are recorded in config
    with zb_config_fail; each returns 0, or -1 when one is) and with
    zb_agent_config_table.c (the directive tables).
*/
#ifndef ZB_AGENT_CONFIG_INTERNAL_H
#define ZB_AGENT_CONFIG_INTERNAL_H

#include "zb_agent_config.h"
#include "zb_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A directive of the agent's tables: the facts (zb_config.h) and what the
//  agent does with them beyond a value check.
typedef struct {
    zb_config_directive_t d;
    int64_t (*dflt_of)(const void *target);     // or a default from what the table read before
    int (*check)(const char *, char *, size_t); // STRING: NULL, or why the value is wrong
    bool nonempty;                              // STRING: given empty is an error
} zb_agent_directive_t;

typedef enum {
    ZB_AGENT_TABLE_AGENT, // the agent section
    ZB_AGENT_TABLE_PROBE, // a probed service
    ZB_AGENT_TABLE_PUSH,  // a push service
    ZB_AGENT_TABLE_TTL,   // a ttl service
} zb_agent_table_t;

//  A table, in the order its keys are read; its length in *count.
const zb_agent_directive_t *zb_agent_config_table(zb_agent_table_t which, size_t *count);

//  A yes/no key: *value keeps the default when the key is absent.
int zb_agent_config_yes_no(zb_config_t *config, zconfig_t *node, const char *key, bool *value);

//  tls, tls-ca, tls-name, tls-verify (dflt: tls for check, which may be NULL).
int zb_agent_config_tls(zb_config_t *config, zconfig_t *node, const char *check, bool dflt,
                        zb_probe_config_t *probe, const char **ca, const char **name);

//  http, http-host, http-header, expect-status, expect-body: the request
//  into send_buf (ZB_PROBE_SEND_MAX), the body's text into expect_buf.
int zb_agent_config_http(zb_config_t *config, zconfig_t *node, bool http, const char *host,
                         const char *tls_name, zb_probe_config_t *probe, char *send_buf,
                         char *expect_buf, const char **expect_status);

//  The journal's directory must exist and be a directory. Returns 0, or -1
//  with a reason in err.
int zb_agent_config_journal_check(const char *path, char *err, size_t errsize);

#endif
