/*  zb_cli_fetch: HTTP requests to monitors' API, many at once (libcurl's
    multi interface), for zbeat --url (zb_cli_remote.c). A question to N
    monitors waits for the slowest, not for the sum of them. Also what the
    requests are made of: query parameters, the user's password.
*/
#ifndef ZB_CLI_FETCH_H
#define ZB_CLI_FETCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Requests of one group (one monitor) in flight at once, at most.
#define ZB_CLI_FETCH_GROUP_MAX 4

typedef struct _zb_cli_fetch_t zb_cli_fetch_t;

typedef struct {
    const char *user;     // HTTP Basic, or NULL
    const char *password; // with user
    const char *cacert;   // the CA file, or NULL: the system's
} zb_cli_fetch_auth_t;

//  One request and, once run, its outcome.
typedef struct {
    size_t group;       // which monitor: once one of its requests fails, the rest are not sent
    char *url;          // the whole URL, path and query (the caller's)
    const char *method; // GET, POST, DELETE
    const char *body;   // JSON, or NULL
    json_t *answer;     // the answer's JSON when it was 200 and JSON; the caller's to free
    bool sent;          // false when skipped (its group failed first)
    bool more;          // the answer is one page of more (a Link: rel="next" header)
    char why[600];      // sent and no answer: what went wrong, one line
} zb_cli_request_t;

//  A client that keeps its connections between runs. auth is copied
//  (not its strings). Returns NULL when libcurl cannot start.
zb_cli_fetch_t *zb_cli_fetch_new(const zb_cli_fetch_auth_t *auth);
void zb_cli_fetch_destroy(zb_cli_fetch_t **self_p);

//  Sends every request (groups: 1 + the largest group) at once, at most
//  ZB_CLI_FETCH_GROUP_MAX of a group at a time, and returns when all are
//  answered, failed or skipped. The outcomes (answer, sent, more, why) are
//  set afresh: a previous run's answers must have been taken.
void zb_cli_fetch_run(zb_cli_fetch_t *self, zb_cli_request_t *requests, size_t count,
                      size_t groups);

//  Appends "?name=value" or "&name=value" (value percent-encoded) to a
//  path and query in a buffer of size bytes.
void zb_cli_fetch_param(char *query, size_t size, const char *name, const char *value);
//  The same with a number.
void zb_cli_fetch_param_int(char *query, size_t size, const char *name, int64_t value);

//  user's password: $ZBEAT_PASSWORD, or the first line of password_file
//  (when not NULL). Returns 0, or the exit code (1, 2) having said why.
int zb_cli_fetch_password(const char *user, const char *password_file, char *password, size_t size);

#endif
