/*  zb_schema: the SQL migrations of schema/, embedded at build time
    (store/embed_schema.cmake generates the table). Step i has version i+1.
*/
#ifndef ZB_SCHEMA_H
#define ZB_SCHEMA_H

typedef struct {
    int version;      // PRAGMA user_version after this step
    const char *name; // file name, for messages
    const char *sql;
} zb_schema_step_t;

extern const zb_schema_step_t zb_schema_steps[];
extern const int zb_schema_step_count;

#endif
