/*  zb_http_test: the HTTP server's self-test, a real server on a free port
    and real sockets (zb-http-selftest http).
*/
#include "zb_http_internal.h"
#include "zb_time.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  Sends a raw request, returns the whole answer (malloc'd) or NULL.
static char *s_fetch(int port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    size_t len = strlen(request);
    assert(write(fd, request, len) == (ssize_t)len);
    zb_http_buf_t buf = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        zb_http_buf_add(&buf, chunk, (size_t)n);
    close(fd);
    assert(!buf.failed);
    return buf.data;
}

static char *s_get(int port, const char *path)
{
    char request[1024];
    snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             path);
    return s_fetch(port, request);
}

static int s_status_of(const char *answer)
{
    int status = 0;
    return answer && sscanf(answer, "HTTP/1.1 %d", &status) == 1 ? status : 0;
}

//  A request with Basic credentials (base64 of "name:password"), or none.
static char *s_get_as(int port, const char *method, const char *path, const char *basic)
{
    char request[1024];
    snprintf(request, sizeof(request),
             "%s %s HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n", method, path,
             basic ? "Authorization: Basic " : "", basic ? basic : "", basic ? "\r\n" : "");
    return s_fetch(port, request);
}

static void s_expect(int port, const char *method, const char *path, const char *basic, int status)
{
    char *answer = s_get_as(port, method, path, basic);
    if (s_status_of(answer) != status)
        fprintf(stderr, "%s %s (%s): %d, not %d\n", method, path, basic ? basic : "-",
                s_status_of(answer), status);
    assert(s_status_of(answer) == status);
    if (status == 401)
        assert(strstr(answer, "WWW-Authenticate: Basic realm=\"zbeat\""));
    free(answer);
}

//  A users file: 401 without (valid) credentials, 403 for a read user's
//  changes, /healthz open; /metrics open or not by the switch.
static void s_auth_test(const char *dir, const char *db)
{
    char err[600], hash[256], users[300];
    assert(zb_http_users_hash("s3cret", hash, sizeof(hash), err, sizeof(err)) == 0);
    snprintf(users, sizeof(users), "%s/users", dir);
    FILE *file = fopen(users, "w");
    assert(file);
    fprintf(file,
            "user\n    alice\n        password = \"%s\"\n        role = admin\n"
            "    bob\n        password = \"%s\"\n",
            hash, hash);
    fclose(file);
    const char *alice = "YWxpY2U6czNjcmV0", *bob = "Ym9iOnMzY3JldA==";
    const char *wrong = "YWxpY2U6d3Jvbmc="; // alice:wrong
    zb_http_options_t options = {.users = users};
    zb_http_t *http = zb_http_new("127.0.0.1:0", db, NULL, &options, err, sizeof(err));
    assert(http);
    int port = zb_http_port(http);
    s_expect(port, "GET", "/api/v1/status", NULL, 401);
    s_expect(port, "GET", "/", NULL, 401);
    s_expect(port, "GET", "/api/v1/status", wrong, 401);
    s_expect(port, "GET", "/api/v1/status", "bm9jb2xvbg==", 401); // no colon
    s_expect(port, "GET", "/api/v1/status", bob, 200);
    s_expect(port, "GET", "/", bob, 200);
    s_expect(port, "POST", "/api/v1/status", bob, 403);
    s_expect(port, "GET", "/api/v1/status", alice, 200);
    s_expect(port, "POST", "/api/v1/status", alice, 405); // past the guard: no such change
    s_expect(port, "POST", "/api/v1/status", NULL, 401);
    s_expect(port, "GET", "/healthz", NULL, 503); // open: no monitor here
    s_expect(port, "GET", "/metrics", NULL, 200);
    //  A reload: bob goes, the next request knows.
    file = fopen(users, "w");
    assert(file);
    fprintf(file, "user\n    alice\n        password = \"%s\"\n        role = admin\n", hash);
    fclose(file);
    assert(zb_http_users_reload(http, users, err, sizeof(err)) == 0);
    s_expect(port, "GET", "/api/v1/status", bob, 401);
    s_expect(port, "GET", "/api/v1/status", alice, 200);
    //  A broken file leaves the users as they were.
    file = fopen(users, "w");
    assert(file);
    fputs("user\n", file);
    fclose(file);
    assert(zb_http_users_reload(http, users, err, sizeof(err)) != 0);
    s_expect(port, "GET", "/api/v1/status", alice, 200);
    zb_http_destroy(&http);
    //  /metrics behind the users as well; a users file that does not load
    //  is no server.
    file = fopen(users, "w");
    assert(file);
    fprintf(file, "user\n    bob\n        password = \"%s\"\n", hash);
    fclose(file);
    options.metrics_auth = true;
    http = zb_http_new("127.0.0.1:0", db, NULL, &options, err, sizeof(err));
    assert(http);
    port = zb_http_port(http);
    s_expect(port, "GET", "/metrics", NULL, 401);
    s_expect(port, "GET", "/metrics", bob, 200);
    zb_http_destroy(&http);
    options.users = "/nonexistent/users";
    assert(!zb_http_new("127.0.0.1:0", db, NULL, &options, err, sizeof(err)));
    assert(strstr(err, "/nonexistent/users"));
    //  TLS without its files: a one-line reason.
    options = (zb_http_options_t){.tls_cert = "/nonexistent/cert.pem", .tls_key = "/x"};
    assert(!zb_http_new("127.0.0.1:0", db, NULL, &options, err, sizeof(err)));
    assert(strstr(err, "http-tls-cert /nonexistent/cert.pem"));
    unlink(users);
}

void zb_http_test(bool verbose)
{
    zb_http_guard_test(verbose);
    zb_http_users_test(verbose);
    char err[600];
    //  Addresses.
    assert(zb_http_address_check("127.0.0.1:7480", err, sizeof(err)) == 0);
    assert(zb_http_address_check("*:80", err, sizeof(err)) == 0);
    assert(zb_http_address_check("localhost:0", err, sizeof(err)) == 0);
    assert(zb_http_address_check("[::1]:7480", err, sizeof(err)) == 0);
    assert(zb_http_address_check("7480", err, sizeof(err)) != 0);
    assert(zb_http_address_check(":7480", err, sizeof(err)) != 0);
    assert(zb_http_address_check("127.0.0.1:", err, sizeof(err)) != 0);
    assert(zb_http_address_check("127.0.0.1:70000", err, sizeof(err)) != 0);
    assert(zb_http_address_check("127.0.0.1:-1", err, sizeof(err)) != 0);
    assert(zb_http_address_check("example.com:80", err, sizeof(err)) != 0);
    assert(strstr(err, "not an IPv4 address"));
    assert(zb_http_address_check("[::1:80", err, sizeof(err)) != 0);
    assert(zb_http_address_check("[nope]:80", err, sizeof(err)) != 0);

    char dir[] = "/tmp/zb_http_test.XXXXXX";
    assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/test.db", dir);
    zb_http_t *http = zb_http_new("127.0.0.1:0", path, NULL, NULL, err, sizeof(err));
    assert(http);
    int port = zb_http_port(http);
    assert(port > 0);
    //  No database yet: 503 with the reason.
    char *answer = s_get(port, "/api/v1/status");
    assert(s_status_of(answer) == 503 && strstr(answer, "no such database"));
    free(answer);

    zb_store_t *store = zb_store_open(path, err, sizeof(err));
    assert(store);
    zb_store_host_t host = {"web-1", "alive", 1000, "0123456789abcdef", 1000, 1500, -1, 0,
                            "",      0,       -1};
    zb_store_service_t service = {"web-1", "redis",   "probe", "down",
                                  2000,    "refused", "nope",  1798761600000};
    zb_store_outage_t outage = {.kind = "service",
                                .host = "web-1",
                                .service = "redis",
                                .started_at_ms = 2000,
                                .ended_at_ms = -1,
                                .reason = "refused",
                                .error = "nope",
                                .instance = "0123456789abcdef"};
    int64_t id;
    assert(zb_store_host_put(store, &host) == 0 && zb_store_service_put(store, &service) == 0);
    assert(zb_store_outage_open(store, &outage, &id, NULL) == 1);
    assert(zb_store_commit(store) == 0);

    answer = s_get(port, "/api/v1/status");
    assert(s_status_of(answer) == 200);
    assert(strstr(answer, "Content-Type: application/json"));
    assert(strstr(answer, "\r\n\r\n[\n  {\"host\":\"web-1\",\"service\":null,\"state\":\"alive\""));
    assert(strstr(answer, "\"service\":\"redis\",\"state\":\"down\""));
    free(answer);
    //  No monitor ever ran on it: "unknown", and no kept_writes without one.
    answer = s_get(port, "/api/v1/monitor");
    assert(s_status_of(answer) == 200 && strstr(answer, "{\"state\":\"unknown\""));
    assert(!strstr(answer, "kept_writes"));
    free(answer);
    zb_store_monitor_t row = {.pid = 7,
                              .hostname = "mon",
                              .version = "1",
                              .started_at_ms = zb_time_wall_ms() - 1000,
                              .heartbeat_at_ms = zb_time_wall_ms(),
                              .heartbeat_ms = 5000,
                              .stopped_at_ms = -1};
    assert(zb_store_monitor_put(store, &row) == 0 && zb_store_commit(store) == 0);
    answer = s_get(port, "/api/v1/monitor");
    assert(s_status_of(answer) == 200);
    assert(strstr(answer, "{\"state\":\"running\",\"caught_up\":true,\"pid\":7,"));
    free(answer);
    answer = s_get(port, "/api/v1/outages?host=web-1&open=true&limit=1");
    assert(s_status_of(answer) == 200 && strstr(answer, "\"reason\":\"refused\""));
    assert(!strstr(answer, "Link:"));
    free(answer);
    answer = s_get(port, "/api/v1/outages?service=ssh");
    assert(s_status_of(answer) == 200 && strstr(answer, "\r\n\r\n[]\n"));
    free(answer);
    //  Pages: a second outage, one per page.
    assert(zb_store_outage_close(store, id, 3000, "up") == 1);
    outage.started_at_ms = 4000;
    assert(zb_store_outage_open(store, &outage, &id, NULL) == 1);
    assert(zb_store_commit(store) == 0);
    answer = s_get(port, "/api/v1/outages?host=web-1&limit=1");
    assert(s_status_of(answer) == 200);
    assert(strstr(answer, "Link: </api/v1/outages?host=web-1&limit=1&offset=1>; rel=\"next\""));
    assert(strstr(answer, "\"ended_at\":null"));
    free(answer);
    answer = s_get(port, "/api/v1/outages?host=web-1&limit=1&offset=1");
    assert(s_status_of(answer) == 200 && !strstr(answer, "Link:"));
    assert(strstr(answer, "\"end_reason\":\"up\""));
    free(answer);
    //  Bad parameters.
    const char *bad[] = {
        "/api/v1/outages?since=yesterday",   "/api/v1/outages?limit=0",
        "/api/v1/outages?limit=10001",       "/api/v1/outages?host=a%20b",
        "/api/v1/outages?colour=red",        "/api/v1/outages?host=a&host=b",
        "/api/v1/outages?open=maybe",        "/api/v1/report?since=1h&until=2h",
        "/api/v1/outages?offset=-1",         "/api/v1/status?x",
        "/api/v1/summary?host=a%20b",        "/api/v1/summary?state=down",
        "/api/v1/report?outages_only=maybe", "/api/v1/report?outages_only=true&host=web-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        answer = s_get(port, bad[i]);
        assert(s_status_of(answer) == 400 && strstr(answer, "{\"error\":"));
        free(answer);
    }
    //  Too many large answers in progress: 503 at once, the others still served.
    atomic_store(&http->heavy, ZB_HTTP_HEAVY_MAX);
    answer = s_get(port, "/api/v1/outages");
    assert(s_status_of(answer) == 503 && strstr(answer, "busy"));
    free(answer);
    answer = s_get(port, "/api/v1/status");
    assert(s_status_of(answer) == 200);
    free(answer);
    atomic_store(&http->heavy, 0);
    //  Too many whole-fleet answers in progress: the same, on their own count.
    atomic_store(&http->fleet, ZB_HTTP_FLEET_MAX);
    const char *fleet[] = {"/metrics", "/api/v1/status", "/api/v1/status?state=problems"};
    for (size_t i = 0; i < sizeof(fleet) / sizeof(fleet[0]); i++) {
        answer = s_get(port, fleet[i]);
        assert(s_status_of(answer) == 503 && strstr(answer, "busy"));
        free(answer);
    }
    answer = s_get(port, "/api/v1/outages");
    assert(s_status_of(answer) == 200);
    free(answer);
    atomic_store(&http->fleet, 0);
    answer = s_get(port, "/metrics");
    assert(s_status_of(answer) == 200);
    free(answer);
    answer = s_get(port, "/api/v1/report?since=1970-01-01T00:00:00Z");
    assert(s_status_of(answer) == 200 && strstr(answer, "\"rows\":[{\"host\":\"web-1\""));
    free(answer);
    //  Only the rows with outages: redis's, not its host's (never silent).
    answer = s_get(port, "/api/v1/report?since=1970-01-01T00:00:00Z&outages_only=true");
    assert(s_status_of(answer) == 200 &&
           strstr(answer, "\"rows\":[{\"host\":\"web-1\",\"service\":\"redis\""));
    free(answer);
    //  The counts, all or narrowed.
    answer = s_get(port, "/api/v1/summary");
    assert(s_status_of(answer) == 200 &&
           strstr(answer, "{\"hosts\":{\"total\":1,\"problems\":0,\"states\":{\"alive\":1}},"
                          "\"services\":{\"total\":1,\"problems\":1,\"states\":{\"down\":1}}}"));
    free(answer);
    answer = s_get(port, "/api/v1/summary?host=db-*");
    assert(s_status_of(answer) == 200 && strstr(answer, "{\"hosts\":{\"total\":0,"));
    free(answer);
    //  Metrics without a monitor: the database's part.
    answer = s_get(port, "/metrics");
    assert(s_status_of(answer) == 200 && strstr(answer, "version=0.0.4"));
    assert(strstr(answer, "zbeat_host_alive{host=\"web-1\"} 1\n"));
    assert(strstr(answer, "zbeat_service_up{host=\"web-1\",service=\"redis\"} 0\n"));
    assert(strstr(answer, "zbeat_tls_cert_expiry_timestamp_seconds{host=\"web-1\","
                          "service=\"redis\"} 1798761600\n"));
    assert(strstr(answer, "zbeat_outages_open{kind=\"service\"} 1\n"));
    assert(!strstr(answer, "zbeat_messages_total"));
    //  The fleet's counts, every known state even at 0.
    assert(strstr(answer, "# TYPE zbeat_hosts gauge\nzbeat_hosts{state=\"alive\"} 1\n"
                          "zbeat_hosts{state=\"silent\"} 0\n"));
    assert(strstr(answer, "zbeat_services{state=\"up\"} 0\nzbeat_services{state=\"down\"} 1\n"));
    free(answer);
    //  The problems only: the down service, not the alive host; none: neither.
    answer = s_get(port, "/metrics?detail=problems");
    assert(s_status_of(answer) == 200 && !strstr(answer, "zbeat_host_alive{"));
    assert(strstr(answer, "zbeat_service_up{host=\"web-1\",service=\"redis\"} 0\n"));
    assert(strstr(answer, "zbeat_hosts{state=\"alive\"} 1\n"));
    free(answer);
    answer = s_get(port, "/metrics?detail=none");
    assert(s_status_of(answer) == 200 && !strstr(answer, "zbeat_host_alive{"));
    assert(!strstr(answer, "zbeat_service_up{") && !strstr(answer, "zbeat_service_state{"));
    assert(strstr(answer, "zbeat_services{state=\"down\"} 1\n"));
    assert(strstr(answer, "zbeat_outages_open{kind=\"service\"} 1\n"));
    free(answer);
    answer = s_get(port, "/metrics?detail=all");
    assert(s_status_of(answer) == 200 && strstr(answer, "zbeat_host_alive{host=\"web-1\"} 1\n"));
    free(answer);
    assert(zb_http_detail_parse("problems") == ZB_HTTP_DETAIL_PROBLEMS);
    assert(zb_http_detail_parse("") < 0 && zb_http_detail_parse("All") < 0);
    assert(zb_http_detail_parse(NULL) < 0);
    const char *bad_detail[] = {"/metrics?detail=some", "/metrics?detail",
                                "/metrics?detail=none&detail=all", "/metrics?colour=red"};
    for (size_t i = 0; i < sizeof(bad_detail) / sizeof(bad_detail[0]); i++) {
        answer = s_get(port, bad_detail[i]);
        assert(s_status_of(answer) == 400 && strstr(answer, "{\"error\":"));
        free(answer);
    }
    answer = s_get(port, "/healthz");
    assert(s_status_of(answer) == 503 && strstr(answer, "no ingest loop"));
    free(answer);
    //  The page, and what is not there.
    answer = s_get(port, "/");
    assert(s_status_of(answer) == 200 && strstr(answer, "text/html"));
    assert(strstr(answer, "Content-Security-Policy:"));
    free(answer);
    answer = s_get(port, "/nope");
    assert(s_status_of(answer) == 404);
    free(answer);
    //  Read only.
    answer = s_fetch(port, "POST /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                           "Connection: close\r\n\r\n{}");
    assert(s_status_of(answer) == 405 && strstr(answer, "Allow: GET, HEAD"));
    free(answer);
    answer = s_fetch(port, "DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert(s_status_of(answer) == 405);
    free(answer);
    //  HEAD: the headers, no body.
    answer = s_fetch(port, "HEAD /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert(s_status_of(answer) == 200 && !strstr(answer, "web-1"));
    free(answer);
    //  Garbage is answered (400) or dropped, never a crash.
    answer = s_fetch(port, "\x01\x02 nonsense\r\n\r\n");
    free(answer);
    answer = s_get(port, "/api/v1/status");
    assert(s_status_of(answer) == 200);
    free(answer);

    zb_store_destroy(&store);
    zb_http_destroy(&http);
    zb_http_destroy(&http); // harmless on NULL
    s_auth_test(dir, path);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
