/*  zb_http_internal: what the HTTP server's files share (zb_http.c serves,
    zb_http_answer.c builds answers, zb_http_api.c, zb_http_metrics.c and
    zb_http_page.c answer routes, zb_http_users.c checks who asks). Not for
    the rest of the monitor: zb_http.h is the public face.
*/
#ifndef ZB_HTTP_INTERNAL_H
#define ZB_HTTP_INTERNAL_H

#include "zb_http.h"
#include "zb_http_guard.h"
#include "zb_http_users.h"
#include "zb_store.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_HTTP_ARGS_MAX 16   // query parameters in one request
#define ZB_HTTP_BODY_MAX 4096 // the body of a change (POST, DELETE)
#define ZB_HTTP_TYPE_JSON "application/json"
#define ZB_HTTP_TYPE_TEXT "text/plain; charset=utf-8"
#define ZB_HTTP_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct _zb_http_t {
    struct MHD_Daemon *daemon; // serving threads
    char *db;                  // database path, opened read-only per request
    zb_monitor_t *monitor;     // live counters, or NULL
    int port;                  // where it listens
    atomic_int heavy;          // outages and report answers being built
    atomic_int fleet;          // /metrics and status answers being built
    zb_http_guard_t *guard;    // total deadlines, free slots (slowloris)
    void *users_ref;           // who may ask (zb_http.c), or NULL: everyone (loopback only)
    pthread_mutex_t lock;      // guards users_ref: SIGHUP swaps it while requests read it
    bool metrics_auth;         // /metrics wants a user too
    char *tls_cert;            // PEM, kept while the daemon runs (MHD keeps the pointer)
    char *tls_key;             // PEM
    //  What /metrics says host by host without ?detail=.
    zb_http_detail_t metrics_detail;
};

//  A growing text buffer; after a failed allocation it stays failed.
typedef struct {
    char *data;
    size_t len;
    size_t alloc;
    bool failed;
} zb_http_buf_t;

void zb_http_buf_add(zb_http_buf_t *buf, const char *text, size_t len);
void zb_http_buf_printf(zb_http_buf_t *buf, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
//  One element of a JSON array laid out as the CLI prints it (takes object).
void zb_http_buf_element(zb_http_buf_t *buf, json_t *object, size_t index);
void zb_http_buf_close_array(zb_http_buf_t *buf, size_t count);

typedef struct {
    const char *key;
    const char *value; // "" for a key without a value
} zb_http_arg_t;

typedef struct {
    zb_http_t *self;
    struct MHD_Connection *conn;
    zb_http_arg_t args[ZB_HTTP_ARGS_MAX];
    size_t arg_count;
    bool too_many; // more than ZB_HTTP_ARGS_MAX parameters
} zb_http_req_t;

//  Collects the query's parameters into req (MHD_get_connection_values).
enum MHD_Result zb_http_on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value);
const char *zb_http_arg(const zb_http_req_t *req, const char *key);

void zb_http_common_headers(struct MHD_Response *response, const char *type);
//  Sends the buffer (taking it), or a 500 when building it failed.
enum MHD_Result zb_http_send(zb_http_req_t *req, unsigned int status, const char *type,
                             zb_http_buf_t *buf, const char *link);
//  One JSON document (taken: freed here; NULL means out of memory).
enum MHD_Result zb_http_send_json(zb_http_req_t *req, unsigned int status, json_t *answer);
//  A JSON error object: {"error": "what went wrong"}.
enum MHD_Result zb_http_error(zb_http_req_t *req, unsigned int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

//  The prologue of every route that reads the database: only the parameters
//  the route knows (a typo is an error, not a filter silently ignored), then
//  a read-only connection of the request's own. Returns it, or NULL with the
//  error answer (400, 503) already queued and its result in *result.
zb_store_t *zb_http_begin(zb_http_req_t *req, const char *const *known, enum MHD_Result *result);

//  Parameter values: a point in time ("2h", "30d", RFC 3339), a number.
bool zb_http_when(const char *name, const char *value, int64_t now, int64_t *ms, char *bad,
                  size_t size);
bool zb_http_number(const char *name, const char *value, long long min, long long max, long long *n,
                    char *bad, size_t size);

//  Routes.
enum MHD_Result zb_http_api_status(zb_http_req_t *req);
enum MHD_Result zb_http_api_summary(zb_http_req_t *req);
enum MHD_Result zb_http_api_outages(zb_http_req_t *req);
enum MHD_Result zb_http_api_monitor(zb_http_req_t *req);
enum MHD_Result zb_http_api_report(zb_http_req_t *req);
enum MHD_Result zb_http_api_latency(zb_http_req_t *req);
enum MHD_Result zb_http_api_hosts(zb_http_req_t *req);
enum MHD_Result zb_http_api_alerts(zb_http_req_t *req);
enum MHD_Result zb_http_api_silences(zb_http_req_t *req);
//  zb_http_admin.c: POST and DELETE (admin, JSON body checked by the caller).
bool zb_http_admin_route(const char *url);
enum MHD_Result zb_http_admin(zb_http_req_t *req, const char *method, const char *url,
                              const char *body, size_t len);
enum MHD_Result zb_http_healthz(zb_http_req_t *req);
enum MHD_Result zb_http_metrics(zb_http_req_t *req);
//  A file of the status page, or NULL when no file has that path.
const zb_http_asset_t *zb_http_page_find(const char *url);
enum MHD_Result zb_http_page_asset(zb_http_req_t *req, const zb_http_asset_t *asset);

#endif
