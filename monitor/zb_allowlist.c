/*  zb_allowlist: the agents' certificates directory, read. See zb_allowlist.h. */
#include "zb_allowlist.h"
#include "zb_hostset.h"
#include "zb_log.h"
#include "zb_proto.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t s_mix(uint64_t hash, const void *data, size_t size)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ p[i]) * 1099511628211ULL; // FNV-1a
    return hash;
}

static bool s_is_secret_file(const char *path)
{
    size_t len = strlen(path);
    return len >= 7 && strcmp(path + len - 7, "_secret") == 0;
}

static void s_key_destroy(void **item)
{
    free(*item);
    *item = NULL;
}

//  What the directory holds now: every file's path, inode, size and
//  modification time to the nanosecond. Any change of any file changes it.
uint64_t zb_allowlist_signature(const char *dir)
{
    uint64_t hash = 14695981039346656037ULL;
    zdir_t *tree = zdir_new(dir, NULL);
    zfile_t **files = tree ? zdir_flatten(tree) : NULL;
    for (size_t i = 0; files && files[i]; i++) {
        const char *path = zfile_filename(files[i], NULL);
        struct stat st;
        hash = s_mix(hash, path, strlen(path) + 1);
        if (stat(path, &st) == 0) {
            int64_t values[] = {(int64_t)st.st_ino, (int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec,
                                (int64_t)st.st_mtim.tv_nsec, (int64_t)st.st_ctim.tv_nsec};
            hash = s_mix(hash, values, sizeof(values));
        }
    }
    zdir_flatten_free(&files);
    zdir_destroy(&tree);
    return hash;
}

//  Reads every public certificate under dir (as zcertstore would: every
//  regular file not ending in _secret, subdirectories included). Returns
//  NULL only when out of memory; an absent directory admits no one.
zhashx_t *zb_allowlist_read(const char *dir)
{
    zhashx_t *keys = zhashx_new();
    if (!keys)
        return NULL;
    zhashx_set_destructor(keys, s_key_destroy);
    zdir_t *tree = zdir_new(dir, NULL);
    if (!tree)
        zb_log_warning("allow-list %s cannot be read: no agent is admitted", dir);
    zfile_t **files = tree ? zdir_flatten(tree) : NULL;
    for (size_t i = 0; files && files[i]; i++) {
        const char *path = zfile_filename(files[i], NULL);
        if (!zfile_is_regular(files[i]) || s_is_secret_file(path))
            continue;
        zcert_t *cert = zcert_load(path);
        if (!cert) {
            zb_log_warning("allow-list: %s is not a certificate, ignored", path);
            continue;
        }
        const char *host = zcert_meta(cert, "host");
        //  A relay's key (zbeat-relay) speaks for many hosts: those its
        //  file here names, whatever the relay's own copy says.
        const char *relay = zcert_meta(cert, "relay");
        char why[256];
        if (relay && (!*relay || strlen(relay) >= sizeof(((zb_allowlist_key_t *)0)->relay) ||
                      zb_hostset_check(relay, why, sizeof(why)) != 0)) {
            zb_log_warning("allow-list: %s: relay = \"%.100s\" is not a list of host patterns "
                           "(web-*,db-*): the relay is admitted, but every message from it will "
                           "be refused",
                           path, relay);
            relay = NULL;
            host = "";
        } else if (relay)
            host = "";
        else if (!host || !zb_name_valid(host)) {
            zb_log_warning("allow-list: %s has no valid host in its metadata: the agent is "
                           "admitted, but every message from it will be refused",
                           path);
            host = "";
        }
        zb_allowlist_key_t *key = zhashx_lookup(keys, zcert_public_txt(cert));
        if (key && (strcmp(key->host, host) != 0 || strcmp(key->relay, relay ? relay : "") != 0)) {
            //  One key, two hosts: neither binding can be trusted.
            zb_log_warning("allow-list: %s and %s hold the same key for different hosts: its "
                           "messages will be refused",
                           key->file, path);
            key->host[0] = '\0';
            key->relay[0] = '\0';
        } else if (!key && (key = calloc(1, sizeof(*key))) != NULL) {
            snprintf(key->host, sizeof(key->host), "%s", host);
            snprintf(key->relay, sizeof(key->relay), "%s", relay ? relay : "");
            snprintf(key->file, sizeof(key->file), "%s", path);
            if (zhashx_insert(keys, zcert_public_txt(cert), key) != 0)
                free(key);
        }
        zcert_destroy(&cert);
    }
    zdir_flatten_free(&files);
    zdir_destroy(&tree);
    return keys;
}

//  Who a key is, for the log.
const char *zb_allowlist_label(const zb_allowlist_key_t *key)
{
    return key->relay[0] ? "a relay" : key->host[0] ? key->host : "(no host)";
}

//  Logs what changed between two readings (NULL: the first).
void zb_allowlist_diff(const char *dir, zhashx_t *old, zhashx_t *keys)
{
    if (!old) {
        zb_log_info("allow-list %s: %zu agent key%s", dir, zhashx_size(keys),
                    zhashx_size(keys) == 1 ? "" : "s");
        if (zhashx_size(keys) == 0)
            zb_log_warning("allow-list %s is empty: no agent can connect until a certificate "
                           "is added (zbeat keygen)",
                           dir);
        return;
    }
    for (zb_allowlist_key_t *key = zhashx_first(old); key; key = zhashx_next(old)) {
        const char *text = zhashx_cursor(old);
        if (!zhashx_lookup(keys, text))
            zb_log_info("allow-list: revoked %s (key %.*s..., was %s): refused from now on",
                        zb_allowlist_label(key), ZB_ALLOWLIST_LOG_KEY, text, key->file);
    }
    for (zb_allowlist_key_t *key = zhashx_first(keys); key; key = zhashx_next(keys)) {
        const char *text = zhashx_cursor(keys);
        zb_allowlist_key_t *before = zhashx_lookup(old, text);
        if (!before)
            zb_log_info("allow-list: admitted %s (key %.*s..., %s)", zb_allowlist_label(key),
                        ZB_ALLOWLIST_LOG_KEY, text, key->file);
        else if (strcmp(before->host, key->host) != 0)
            zb_log_info("allow-list: key %.*s... now bound to %s (was %s)", ZB_ALLOWLIST_LOG_KEY,
                        text, zb_allowlist_label(key),
                        before->host[0] ? before->host : "(no host)");
    }
}
