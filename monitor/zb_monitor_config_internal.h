/*  zb_monitor_config_internal: what zb_monitor_config.c (the file, the
    alert channels) shares with zb_monitor_config_table.c (the `monitor`
    section's directive table).
*/
#ifndef ZB_MONITOR_CONFIG_INTERNAL_H
#define ZB_MONITOR_CONFIG_INTERNAL_H

#include "zb_config.h"
#include "zb_monitor_config.h"

//  Reads the `monitor` section (which may be NULL) into self over its
//  defaults: unknown keys, then every directive in the table's order.
//  Errors are recorded in config.
void zb_monitor_config_read_monitor(zb_monitor_config_t *self, zb_config_t *config,
                                    zconfig_t *section);

#endif
