/*  zb_http: the monitor's read-only HTTP interface (docs/http.md).

    GET /                the status page (monitor/www, embedded at build time)
    GET /healthz         200 while the ingest loop runs and the database takes writes
    GET /metrics         Prometheus text format (?detail=all|problems|none)
    GET /api/v1/status   the array of `zbeat status --json`
    GET /api/v1/outages  the array of `zbeat outages --json` (filters, pages)
    GET /api/v1/report   the object of `zbeat report --json`
    GET /api/v1/latency  the last hour of round trips per service (zb_series)
    GET /api/v1/hosts, /api/v1/alerts, /api/v1/silences   the CLI's --json lists
    POST/DELETE /api/v1/silences[/ID], POST /api/v1/hosts/NAME/forget   admin
                         only (zb_http_admin.c), carried out by the monitor's loop

    Files: zb_http.c (this: serving, TLS, who may ask), zb_http_api.c,
    zb_http_metrics.c, zb_http_page.c (routes), zb_http_answer.c (answers),
    zb_http_users.c (the users file), zb_http_guard.c (slowloris).

    Security (docs/http.md): TLS from a PEM certificate and key; a users file
    (zb_http_users.h) turns on HTTP Basic authentication for everything but
    /healthz (and /metrics unless metrics_auth): 401 without valid
    credentials, 403 for a read user asking for anything but GET or HEAD.

    libmicrohttpd serves it from its own threads (one per connection, with a
    cap on connections and a timeout, so a slow client holds only its own
    thread); zb_http_guard gives each request a total deadline and keeps
    slots free for new requests (slowloris). Each request reads the database through its own
   read-only zb_store connection, like the CLI, so it never blocks ingest; the live counters come
   from zb_monitor_snapshot. Anything but GET and HEAD is 405, but the admin
   routes with a users file.
*/
#ifndef ZB_HTTP_H
#define ZB_HTTP_H

#include "zb_monitor.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct _zb_http_t zb_http_t;

//  Limits (docs/http.md).
#define ZB_HTTP_CONNECTIONS_MAX 64       // connections served at once
#define ZB_HTTP_CONNECTIONS_FREE 16      // kept free: the slowest header sender is cut
#define ZB_HTTP_CONNECTIONS_CLOSING 64   // more, for cut ones libmicrohttpd has not reaped
#define ZB_HTTP_TIMEOUT_S 10             // a connection with no progress is closed after this
#define ZB_HTTP_HEADERS_S 10             // request line and headers within this, in all
#define ZB_HTTP_ANSWER_S 60              // an answer sent within this of its headers
#define ZB_HTTP_REQUEST_BYTES 16384      // request line and headers
#define ZB_HTTP_LIMIT_DEFAULT 1000       // outages per page
#define ZB_HTTP_LIMIT_MAX 10000          // outages per page, at most
#define ZB_HTTP_OFFSET_MAX 1000000       // deepest page start
#define ZB_HTTP_STATUS_LIMIT_MAX 1000000 // status rows per page (default: all)
#define ZB_HTTP_HOST_NAMES_MAX 1000      // GET /api/v1/hosts?host=NAME,...: names at most
#define ZB_HTTP_HEALTHY_PASS_MS 2000     // /healthz: the ingest loop passed this recently
#define ZB_HTTP_HEAVY_MAX 4              // outages and report answers built at once (more: 503)
#define ZB_HTTP_FLEET_MAX 4              // /metrics and status answers built at once (more: 503)

//  One file of the status page, embedded from monitor/www by
//  monitor/embed_www.cmake (generated zb_www.c).
typedef struct {
    const char *path; // "/app.js"
    const char *type; // Content-Type
    const unsigned char *data;
    size_t size;
} zb_http_asset_t;

extern const zb_http_asset_t zb_http_assets[];
extern const size_t zb_http_asset_count;

//  Checks an address to serve on: "HOST:PORT" with HOST a numeric IPv4
//  address, "localhost", "*" (every IPv4 address) or "[IPv6]", PORT 0 to
//  65535 (0: any free port). Returns 0, or -1 with the reason in err.
int zb_http_address_check(const char *address, char *err, size_t errsize);

//  What /metrics says host by host and service by service (monitor
//  metrics-detail, GET /metrics?detail=, docs/http.md): every row, the
//  problems only (GET /api/v1/status?state=problems's rows), or none. The
//  fleet's counts by state and the monitor's counters are there in all.
typedef enum { ZB_HTTP_DETAIL_ALL, ZB_HTTP_DETAIL_PROBLEMS, ZB_HTTP_DETAIL_NONE } zb_http_detail_t;
#define ZB_HTTP_DETAILS "all, problems, none"

//  "all", "problems" or "none": its detail, or -1.
int zb_http_detail_parse(const char *text);

//  How the server guards itself; every field may be NULL/false (all of
//  them: today's open, plain HTTP server, for loopback).
typedef struct {
    const char *tls_cert; // PEM certificate (chain) file: TLS on
    const char *tls_key;  // PEM private key file, with tls_cert
    const char *users;    // users file (zb_http_users.h): Basic authentication on
    bool metrics_auth;    // /metrics wants credentials too
    //  /metrics without ?detail= (0: all).
    zb_http_detail_t metrics_detail;
} zb_http_options_t;

//  Starts serving. db is the database's path (opened read-only per
//  request); monitor gives the live counters and may be NULL (then
//  /healthz is 503 and /metrics has only what the database says); options
//  may be NULL. Returns NULL with a one-line reason in err.
zb_http_t *zb_http_new(const char *address, const char *db, zb_monitor_t *monitor,
                       const zb_http_options_t *options, char *err, size_t errsize);

//  Re-reads the users file (SIGHUP): the new set serves the next requests;
//  on error the old one stays and err says why.
int zb_http_users_reload(zb_http_t *self, const char *path, char *err, size_t errsize);

//  Stops the threads, closing every connection.
void zb_http_destroy(zb_http_t **self_p);

//  The port it listens on (the chosen one, for port 0).
int zb_http_port(zb_http_t *self);

void zb_http_test(bool verbose);

#endif
