/*  zb_cli_fetch: HTTP requests to monitors' API, many at once. See
    zb_cli_fetch.h.

    One multi handle for the client's life: its connection cache keeps each
    monitor's connection (and TLS session) from one run to the next. Every
    group (monitor) has at most ZB_CLI_FETCH_GROUP_MAX requests in flight,
    so that a monitor asked many things does not hold up the others, and
    the groups run side by side: the wait is the slowest monitor's.
*/
#include "zb_cli_fetch.h"
#include "zb_cli.h"

#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_ANSWER_MAX (256 * 1024 * 1024) // bytes of one answer, at most
#define S_CONNECT_TIMEOUT_S 5
#define S_TIMEOUT_S 120
#define S_POLL_MS 1000 // libcurl's own timers wake the poll sooner when they must

struct _zb_cli_fetch_t {
    CURLM *multi;             // the transfers and the connection cache
    zb_cli_fetch_auth_t auth; // borrowed strings
};

//  One request in flight.
typedef struct {
    CURL *curl;                 // NULL: not started (or done)
    struct curl_slist *headers; // Content-Type for a body
    char *data;                 // the answer so far, NUL-terminated
    size_t len;                 // its bytes
    bool too_big;               // cut at S_ANSWER_MAX
    zb_cli_request_t *request;  // what it answers
} s_transfer_t;

zb_cli_fetch_t *zb_cli_fetch_new(const zb_cli_fetch_auth_t *auth)
{
    //  The client is the program's only one: libcurl's global state is
    //  set up here and torn down with it.
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return NULL;
    zb_cli_fetch_t *self = calloc(1, sizeof(*self));
    if (self)
        self->multi = curl_multi_init();
    if (!self || !self->multi) {
        free(self);
        curl_global_cleanup();
        return NULL;
    }
    if (auth)
        self->auth = *auth;
    return self;
}

void zb_cli_fetch_destroy(zb_cli_fetch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zb_cli_fetch_t *self = *self_p;
    curl_multi_cleanup(self->multi);
    free(self);
    curl_global_cleanup();
    *self_p = NULL;
}

static size_t s_on_data(char *data, size_t size, size_t n, void *arg)
{
    s_transfer_t *t = arg;
    size_t len = size * n;
    if (t->len + len > S_ANSWER_MAX) {
        t->too_big = true;
        return 0;
    }
    char *grown = realloc(t->data, t->len + len + 1);
    if (!grown)
        return 0;
    memcpy(grown + t->len, data, len);
    t->data = grown;
    t->len += len;
    t->data[t->len] = '\0';
    return len;
}

//  A page of more (the API's RFC 8288 Link: <...>; rel="next").
static size_t s_on_header(char *data, size_t size, size_t n, void *arg)
{
    s_transfer_t *t = arg;
    size_t len = size * n;
    char line[1024];
    if (len > 5 && strncasecmp(data, "link:", 5) == 0) {
        size_t copy = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
        memcpy(line, data, copy);
        line[copy] = '\0';
        if (strstr(line, "rel=\"next\""))
            t->request->more = true;
    }
    return len;
}

static int s_start(zb_cli_fetch_t *self, s_transfer_t *t)
{
    zb_cli_request_t *request = t->request;
    CURL *curl = t->curl = curl_easy_init();
    if (!curl) {
        snprintf(request->why, sizeof(request->why), "out of memory");
        return -1;
    }
    curl_easy_setopt(curl, CURLOPT_PRIVATE, t);
    curl_easy_setopt(curl, CURLOPT_URL, request->url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)S_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)S_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request->method);
#ifdef CURLOPT_PROTOCOLS_STR
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (self->auth.cacert)
        curl_easy_setopt(curl, CURLOPT_CAINFO, self->auth.cacert);
    if (self->auth.user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, self->auth.user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, self->auth.password);
    }
    if (request->body) {
        //  The monitor wants JSON for a change (its guard against CSRF).
        t->headers = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, t->headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request->body);
    }
    if (curl_multi_add_handle(self->multi, curl) != CURLM_OK) {
        snprintf(request->why, sizeof(request->why), "cannot start the request");
        return -1;
    }
    request->sent = true;
    return 0;
}

//  The outcome of a finished transfer into its request; frees the transfer.
static void s_finish(zb_cli_fetch_t *self, s_transfer_t *t, CURLcode rc)
{
    zb_cli_request_t *request = t->request;
    long status = 0;
    if (t->curl) {
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(self->multi, t->curl);
        curl_easy_cleanup(t->curl);
        t->curl = NULL;
    }
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    char *why = request->why;
    size_t size = sizeof(request->why);
    json_t *json = NULL;
    if (rc != CURLE_OK)
        snprintf(why, size, "%s%s", t->too_big ? "answer too large: " : "", curl_easy_strerror(rc));
    else {
        json = t->data ? json_loadb(t->data, t->len, 0, NULL) : NULL;
        const char *error = json_string_value(json_object_get(json, "error"));
        if (status == 401)
            snprintf(why, size, "authentication failed%s",
                     self->auth.user ? "" : " (give --user and a password)");
        else if (status == 403)
            snprintf(why, size, "forbidden: %s",
                     error ? error : "the admin role is needed for this");
        else if (status != 200)
            snprintf(why, size, "HTTP %ld: %s", status, error ? error : "no answer");
        else if (!json)
            snprintf(why, size, "the answer is not JSON");
    }
    free(t->data);
    t->data = NULL;
    if (rc == CURLE_OK && status == 200 && json)
        request->answer = json;
    else
        json_decref(json);
}

//  Starts what may start: each group's next requests while it has room;
//  a failed group's are skipped. Returns how many were finished here
//  (skipped, or failed to start).
static size_t s_start_more(zb_cli_fetch_t *self, s_transfer_t *transfers, size_t count,
                           size_t *cursor, size_t *running, bool *failed, size_t groups)
{
    size_t finished = 0;
    for (size_t g = 0; g < groups; g++) {
        while (cursor[g] < count && (failed[g] || running[g] < ZB_CLI_FETCH_GROUP_MAX)) {
            s_transfer_t *t = &transfers[cursor[g]++];
            if (t->request->group != g)
                continue;
            if (failed[g]) {
                finished++; // skipped: sent stays false
                continue;
            }
            if (s_start(self, t) != 0) {
                //  Not sent: undone, its why said by s_start.
                curl_easy_cleanup(t->curl);
                t->curl = NULL;
                curl_slist_free_all(t->headers);
                t->headers = NULL;
                failed[g] = true;
                finished++;
                continue;
            }
            running[g]++;
        }
    }
    return finished;
}

void zb_cli_fetch_run(zb_cli_fetch_t *self, zb_cli_request_t *requests, size_t count, size_t groups)
{
    for (size_t i = 0; i < count; i++) {
        assert(requests[i].group < groups);
        requests[i].answer = NULL;
        requests[i].sent = requests[i].more = false;
        requests[i].why[0] = '\0';
    }
    s_transfer_t *transfers = calloc(count ? count : 1, sizeof(*transfers));
    size_t *cursor = calloc(groups ? groups : 1, sizeof(*cursor));
    size_t *running = calloc(groups ? groups : 1, sizeof(*running));
    bool *failed = calloc(groups ? groups : 1, sizeof(*failed));
    if (!transfers || !cursor || !running || !failed) {
        for (size_t i = 0; i < count; i++)
            snprintf(requests[i].why, sizeof(requests[i].why), "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++)
        transfers[i].request = &requests[i];
    size_t finished = 0;
    for (;;) {
        finished += s_start_more(self, transfers, count, cursor, running, failed, groups);
        if (finished == count)
            break;
        int still = 0;
        curl_multi_perform(self->multi, &still);
        CURLMsg *msg;
        int left;
        bool progressed = false;
        while ((msg = curl_multi_info_read(self->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *ptr = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &ptr);
            s_transfer_t *t = (s_transfer_t *)(void *)ptr;
            CURLcode rc = msg->data.result;
            size_t g = t->request->group;
            s_finish(self, t, rc); // msg is no longer valid after this
            running[g]--;
            failed[g] = failed[g] || !t->request->answer;
            finished++;
            progressed = true;
        }
        //  A freed slot starts the group's next request at once.
        if (!progressed)
            curl_multi_poll(self->multi, NULL, 0, S_POLL_MS, NULL);
    }
done:
    free(transfers);
    free(cursor);
    free(running);
    free(failed);
}

void zb_cli_fetch_param(char *query, size_t size, const char *name, const char *value)
{
    size_t len = strlen(query);
    len += (size_t)snprintf(query + len, size > len ? size - len : 0,
                            "%s%s=", strchr(query, '?') ? "&" : "?", name);
    for (const unsigned char *p = (const unsigned char *)value; *p && len + 4 < size; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~*", *p))
            query[len++] = (char)*p;
        else
            len += (size_t)snprintf(query + len, size - len, "%%%02X", *p);
    }
    query[len] = '\0';
}

void zb_cli_fetch_param_int(char *query, size_t size, const char *name, int64_t value)
{
    char number[24];
    snprintf(number, sizeof(number), "%lld", (long long)value);
    zb_cli_fetch_param(query, size, name, number);
}

int zb_cli_fetch_password(const char *user, const char *password_file, char *password, size_t size)
{
    if (password_file) {
        FILE *file = fopen(password_file, "r");
        if (!file) {
            fprintf(stderr, ZB_CLI_NAME ": --password-file %s: %s\n", password_file,
                    strerror(errno));
            return 1;
        }
        bool read = fgets(password, (int)size, file) != NULL;
        fclose(file);
        password[strcspn(password, "\r\n")] = '\0';
        if (!read || !password[0]) {
            fprintf(stderr, ZB_CLI_NAME ": --password-file %s: empty\n", password_file);
            return 1;
        }
        return 0;
    }
    const char *env = getenv("ZBEAT_PASSWORD");
    if (!env || !*env)
        return zb_cli_bad("--user %s needs a password: $ZBEAT_PASSWORD or --password-file FILE",
                          user);
    snprintf(password, size, "%s", env);
    return 0;
}
