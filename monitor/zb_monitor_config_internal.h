/*  zb_monitor_config_internal: what zb_monitor_config.c (the file, the
    environment and flags) shares with the directive tables of its
    sections: zb_monitor_config_table.c (`monitor`) and
    zb_monitor_config_alert.c (`alert`, its channels).
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

//  Reads the `alert` section: each child a channel (at most
//  ZB_MONITOR_CHANNELS_MAX), its keys checked against the channel table
//  and read in its order. Errors are recorded in config.
void zb_monitor_config_read_alert(zb_monitor_config_t *self, zb_config_t *config,
                                  zconfig_t *section);

//  Prints the docs' cells of every channel key ("alert\tKEY\t..."), for
//  zb_monitor_config_print_table.
void zb_monitor_config_print_alert(FILE *out);

#endif
