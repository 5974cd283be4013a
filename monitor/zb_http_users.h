/*  zb_http_users: who may use the HTTP server (docs/http.md, "Users").

    The users file is ZPL, like the monitor's own configuration:

        user
            alice
                password = $2b$10$...   (bcrypt, from `zbeat hash-password`)
                role = admin             (read: GET only; admin: may change state)

    A loaded set is never changed: a reload (SIGHUP) loads a new one and the
    server swaps it in. Checking is meant to take the same time whether the
    name exists or not: every name is compared in full, and a password is
    always run through bcrypt, against the first user's hash when no name
    matched.
*/
#ifndef ZB_HTTP_USERS_H
#define ZB_HTTP_USERS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _zb_http_users_t zb_http_users_t;

typedef enum {
    ZB_HTTP_ROLE_NONE = 0, // unknown name or wrong password
    ZB_HTTP_ROLE_READ,     // GET and HEAD
    ZB_HTTP_ROLE_ADMIN,    // and what changes state
} zb_http_role_t;

#define ZB_HTTP_USERS_MAX 256    // users in one file
#define ZB_HTTP_USER_NAME_MAX 64 // bytes in a user name

//  Loads a users file. Returns NULL with one line in err: "FILE:LINE: ..."
//  or "FILE: user/NAME/key: message". A file with no user is an error (it
//  would lock everyone out).
zb_http_users_t *zb_http_users_load(const char *path, char *err, size_t errsize);

void zb_http_users_destroy(zb_http_users_t **self_p);

size_t zb_http_users_count(const zb_http_users_t *self);

//  The role of name with password, or ZB_HTTP_ROLE_NONE. Safe from many
//  threads at once (it changes nothing).
zb_http_role_t zb_http_users_check(const zb_http_users_t *self, const char *name,
                                   const char *password);

//  A bcrypt hash ($2b$, cost 10) of password, with a fresh random salt.
//  Returns 0, or -1 with the reason in err.
int zb_http_users_hash(const char *password, char *hash, size_t size, char *err, size_t errsize);

void zb_http_users_test(bool verbose);

#endif
