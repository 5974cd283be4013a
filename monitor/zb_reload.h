/*  zb_reload: the monitor's settings from their layers, and live reload on
    SIGHUP (docs/config-monitor.md, "Reload").

    The same function builds the settings at start-up and on every reload
    (defaults < file < environment < flags), so a reload sees exactly what a
    restart would. SIGHUP is blocked in every thread (zb_reload_block, first
    thing in main) and read from a signalfd inside the monitor's zloop: no
    handler runs, no system call anywhere sees EINTR, and a SIGHUP that
    arrives during start-up waits for the loop instead of killing us.

    zb_reload_t also owns the HTTP server, the one piece of the monitor that
    lives outside zb_monitor and may need a restart on reload.
*/
#ifndef ZB_RELOAD_H
#define ZB_RELOAD_H

#include "zb_monitor.h"
#include "zb_monitor_config.h"

#include <stdbool.h>
#include <stddef.h>

//  Where the settings come from: the -c file and the flags (NULL when not
//  given). The strings are borrowed (argv) and must outlive the monitor.
typedef struct {
    const char *file;
    const char *db;
    const char *bind;
    const char *liveness;
    const char *http;
} zb_reload_args_t;

typedef struct _zb_reload_t zb_reload_t;

//  Blocks SIGHUP in the calling thread and in every thread started after
//  it. Call before anything starts a thread. Returns 0 or -1.
int zb_reload_block(void);

//  Defaults, then the file, ZBEAT_DB/ZBEAT_BIND, then the flags. Returns 0,
//  or -1 with the one line for the user in err.
int zb_reload_config(const zb_reload_args_t *args, zb_monitor_config_t *config, char *err,
                     size_t errsize);

//  Starts the HTTP server when config asks for one and hooks SIGHUP into
//  the monitor's loop. Returns NULL with a one-line reason in err.
zb_reload_t *zb_reload_new(const zb_reload_args_t *args, zb_monitor_t *monitor,
                           const zb_monitor_config_t *config, char *err, size_t errsize);

//  Stops the HTTP server. Call before destroying the monitor.
void zb_reload_destroy(zb_reload_t **self_p);

//  Re-reads and applies the settings now (what SIGHUP does). Returns 0,
//  or -1 when the new settings were refused (logged; the old stay).
int zb_reload_now(zb_reload_t *self);

#endif
