/*  zb_agent_config_internal: the key readers zb_agent_config.c shares with
    zb_agent_config_keys.c. Errors are recorded in config (zb_config_fail);
    each returns 0, or -1 when one is.
*/
#ifndef ZB_AGENT_CONFIG_INTERNAL_H
#define ZB_AGENT_CONFIG_INTERNAL_H

#include "zb_agent_config.h"
#include "zb_config.h"

#include <stdbool.h>

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
