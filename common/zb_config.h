/*  zb_config: ZPL configuration files with checked, typed access.

    Wraps czmq's zconfig. The loader turns a ZPL syntax error into
    "FILE:LINE: message"; the typed getters check each value and remember the
    first error as "FILE: path/to/key: message" (the zconfig tree keeps no
    line numbers). Callers read every key they know, then call
    zb_config_check_known on each section so that unknown keys are errors too,
    and finally look at zb_config_error: one line for the user, exit 2.
*/
#ifndef ZB_CONFIG_H
#define ZB_CONFIG_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct _zb_config_t zb_config_t;

//  Loads a ZPL file. Returns NULL with "FILE:LINE: message" (or
//  "FILE: message" when unreadable) in err.
zb_config_t *zb_config_load(const char *path, char *err, size_t errsize);

//  Parses ZPL text; name stands for the file in messages.
zb_config_t *zb_config_load_text(const char *text, const char *name, char *err, size_t errsize);

//  An empty configuration (every key takes its default), named for errors.
zb_config_t *zb_config_new_empty(const char *name);

void zb_config_destroy(zb_config_t **self_p);

//  Ends a load: destroys the configuration; returns 0, or -1 with the first
//  error recorded in err.
int zb_config_close(zb_config_t **self_p, char *err, size_t errsize);

//  The root of the tree, and the file name used in messages.
zconfig_t *zb_config_root(zb_config_t *self);
const char *zb_config_filename(zb_config_t *self);

//  The first error recorded, or NULL when all is well.
const char *zb_config_error(zb_config_t *self);

//  Records an error about a node (or, with node NULL, about the file) unless
//  one is recorded already. Returns -1 for convenience.
int zb_config_fail(zb_config_t *self, zconfig_t *node, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

//  The key's path for messages, e.g. "service/redis/timeout".
void zb_config_path(zb_config_t *self, zconfig_t *node, char *buf, size_t size);

//  Fails for every child of section whose name is not in known (a
//  NULL-terminated list; "key*" is a key that may be given more than once). A NULL section passes.
int zb_config_check_known(zb_config_t *self, zconfig_t *section, const char *const known[]);

//  The top-level section `name` (NULL when the file has none), after failing
//  every top-level key not in sections (NULL-terminated) and a value given
//  to the section itself: a section takes none.
zconfig_t *zb_config_section(zb_config_t *self, const char *const sections[], const char *name);

//  Typed getters: the child `key` of `section` (which may be NULL). When the
//  key is absent the default is returned; when it is present but invalid an
//  error is recorded, the default is returned and so is -1 where a status
//  is returned.
const char *zb_config_string(zb_config_t *self, zconfig_t *section, const char *key,
                             const char *dflt);
int zb_config_duration(zb_config_t *self, zconfig_t *section, const char *key, int64_t dflt,
                       int64_t min, int64_t max, int64_t *value);
int zb_config_int(zb_config_t *self, zconfig_t *section, const char *key, int64_t dflt, int64_t min,
                  int64_t max, int64_t *value);
//  A string with C escapes (\r \n \t \\ \" \0 \xHH) decoded into buf.
int zb_config_bytes(zb_config_t *self, zconfig_t *section, const char *key, char *buf, size_t size,
                    size_t *len);

//  --------------------------------------------------------------------------
//  Directive tables. A daemon lists every key of a section, in the order it
//  is read (the first error wins, so the order is part of the messages),
//  with its type, bounds, default and where its value goes. The same entry
//  gives the type, default and bounds cells of the section's table in
//  docs/config-*.md: `DAEMON --config-table` prints them, and
//  scripts/config_docs.py checks (or rewrites) the docs against it.

typedef enum {
    ZB_CONFIG_CODE,         // read by the daemon's own code; min/max for the docs only
    ZB_CONFIG_STRING,       // text; `text` is its default (NULL or "": none)
    ZB_CONFIG_INT,          // whole number in [min, max]
    ZB_CONFIG_DURATION,     // duration in [min, max] ms
    ZB_CONFIG_DURATION_OFF, // as ZB_CONFIG_DURATION, or "0": off
    ZB_CONFIG_BOOL,         // yes or no
} zb_config_type_t;

typedef struct {
    const char *key; // "key*": may be given more than once
    zb_config_type_t type;
    int64_t min, max; // INT, DURATION*: bounds (ms for durations)
    int64_t dflt;     // INT, DURATION*, BOOL: the default
    const char *text; // STRING: the default
    size_t offset;    // where the value goes in the daemon's struct
    size_t size;      // of that field: an int or an int64_t for numbers
    //  The docs' cells (markdown) where the facts above cannot say it, or
    //  NULL to derive them from the facts. In them, {min}, {max} and
    //  {default} stand for the derived values: "{min} .. below `interval`".
    const char *doc_type, *doc_default, *doc_bounds;
} zb_config_directive_t;

//  Reads an INT, DURATION or DURATION_OFF directive of section into the
//  field at target + d->offset (an int or an int64_t, by d->size); dflt
//  when the key is absent or invalid. Returns 0, or -1 with an error
//  recorded.
int zb_config_read_number(zb_config_t *self, zconfig_t *section, const zb_config_directive_t *d,
                          int64_t dflt, void *target);

//  Prints the directive's docs line, "SECTION\tKEY\tTYPE\tDEFAULT\tBOUNDS\n"
//  (the key without its "*"; the cells in markdown), for --config-table.
void zb_config_directive_print(FILE *out, const char *section, const zb_config_directive_t *d);

//  Decodes C escapes. Returns 0, or -1 with a reason in err for a bad escape
//  or when the result does not fit (size includes no terminator; one is
//  added when room remains).
int zb_unescape(const char *text, char *buf, size_t size, size_t *len, char *err, size_t errsize);

void zb_config_test(bool verbose);

#endif
