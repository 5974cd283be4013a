/*  zb_allowlist: the directory of admitted agents' (and relays') public
    certificates (monitor/agents), read into a table of keys, each bound to
    its host (or a relay's host patterns); a cheap signature of the
    directory tells when to read it again, and what changed between two
    readings is logged. zb_auth shares the table between its ZAP handler
    and the message check.
*/
#ifndef ZB_ALLOWLIST_H
#define ZB_ALLOWLIST_H

#include "zb_proto.h"

#include <czmq.h>
#include <stdint.h>

#define ZB_ALLOWLIST_LOG_KEY 12 // key characters shown in logs: enough to tell keys apart

//  One admitted key.
typedef struct {
    char host[ZB_NAME_MAX + 1]; // bound host; "" when the file names none (refused)
    char relay[512];            // a relay's key: the hosts it may speak for (zb_hostset), or ""
    char file[256];             // the certificate it came from, for the log
} zb_allowlist_key_t;

//  What the directory holds now (every file's path, inode, size and times):
//  any change of any file changes it.
uint64_t zb_allowlist_signature(const char *dir);

//  Every public certificate under dir: Z85 key -> zb_allowlist_key_t (the
//  table owns them). NULL only when out of memory; an absent directory
//  admits no one.
zhashx_t *zb_allowlist_read(const char *dir);

//  Who a key is, for the log: its host, "a relay" or "(no host)".
const char *zb_allowlist_label(const zb_allowlist_key_t *key);

//  Logs what changed between two readings (old NULL: the first).
void zb_allowlist_diff(const char *dir, zhashx_t *old, zhashx_t *keys);

#endif
