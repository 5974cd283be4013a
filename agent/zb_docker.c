/*  zb_docker: the Docker Engine API reader. See zb_docker.h. What an
    inspected container means for probing is zb_docker_container.c's.
*/
#include "zb_docker.h"
#include "zb_log.h"
#include "zb_net.h"

#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZB_DOCKER_TIMEOUT_MS 10000    // one list or inspect
#define ZB_DOCKER_SUBSCRIBE_MS 5000   // the events stream's response headers
#define ZB_DOCKER_BACKOFF_MIN_MS 100  // before reconnecting, doubling
#define ZB_DOCKER_BACKOFF_MAX_MS 5000 // to at most this
#define ZB_DOCKER_BODY_MAX (16 * 1024 * 1024)
#define ZB_DOCKER_LINE_MAX (1024 * 1024) // one event
#define ZB_DOCKER_FILTERS_MAX 16

struct _zb_docker_t {
    zb_loop_t *loop;      // messages are read here
    zb_docker_fn *fn;     // and handed to this
    void *arg;            // for fn
    char socket[108];     // the engine's unix socket
    json_t *filters;      // discover-filter as Docker's filters object
    int msg_pipe[2];      // thread -> loop: one zb_docker_msg_t * per write
    int stop_pipe[2];     // loop -> thread: closed write end = stop
    pthread_t thread;     // the reader
    bool started;         // thread runs
    atomic_bool stopping; // the thread must end
    CURL *easy;           // thread: lists and inspects
    CURL *events;         // thread: the events stream
    CURLM *multi;         // thread: drives the events stream
    char *body;           // thread: a list's or inspect's response
    size_t body_len;      // its bytes
    char *line;           // thread: what the events stream sent, not yet handled
    size_t line_len;      // its bytes
    size_t line_alloc;    // allocated
    bool lost_said;       // thread: LOST sent for this outage
};

//  Settings

int zb_docker_url_check(const char *url, char *err, size_t errsize)
{
    const char *path = strncmp(url, "unix://", 7) == 0 ? url + 7 : NULL;
    if (!path || path[0] != '/') {
        snprintf(err, errsize, "\"%s\" is not unix:///path/to/docker.sock", url);
        return -1;
    }
    if (strlen(path) >= sizeof(((struct _zb_docker_t *)0)->socket)) {
        snprintf(err, errsize, "\"%s\": the socket path is too long", url);
        return -1;
    }
    return 0;
}

//  "label=a=b label=c" -> {"label": ["a=b", "c"]}. Only label filters: the
//  container list and the events stream take them alike.
static json_t *s_filters_parse(const char *filter, char *err, size_t errsize)
{
    json_t *filters = json_object();
    json_t *labels = json_array();
    char *copy = filter ? strdup(filter) : NULL;
    if (!filters || !labels || (filter && !copy)) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    size_t count = 0;
    char *save = NULL;
    for (char *item = copy ? strtok_r(copy, " \t", &save) : NULL; item;
         item = strtok_r(NULL, " \t", &save)) {
        if (strncmp(item, "label=", 6) != 0 || item[6] == '\0' || item[6] == '=') {
            snprintf(err, errsize,
                     "\"%s\" is not label=KEY or label=KEY=VALUE (filters are separated by "
                     "spaces)",
                     item);
            goto failed;
        }
        if (++count > ZB_DOCKER_FILTERS_MAX) {
            snprintf(err, errsize, "more than %d filters", ZB_DOCKER_FILTERS_MAX);
            goto failed;
        }
        json_array_append_new(labels, json_string(item + 6));
    }
    if (json_array_size(labels) > 0)
        json_object_set(filters, "label", labels);
    json_decref(labels);
    free(copy);
    return filters;
failed:
    json_decref(labels);
    json_decref(filters);
    free(copy);
    return NULL;
}

int zb_docker_filter_check(const char *filter, char *err, size_t errsize)
{
    json_t *filters = s_filters_parse(filter, err, errsize);
    json_decref(filters);
    return filters ? 0 : -1;
}

//  Messages to the loop

//  Hands msg to the loop (or frees it when the loop is gone). A pointer is
//  far below PIPE_BUF: each write is whole.
static void s_send(zb_docker_t *self, zb_docker_msg_t *msg)
{
    if (!msg) {
        zb_log_error("docker: out of memory: a message is lost");
        return;
    }
    //  The write end does not block: while the pipe is full (a loop busy
    //  for long) the thread waits here, but still sees a stop.
    ssize_t n;
    for (;;) {
        n = write(self->msg_pipe[1], &msg, sizeof(msg));
        if (n != -1 || (errno != EINTR && errno != EAGAIN))
            break;
        struct pollfd pfds[2] = {{self->msg_pipe[1], POLLOUT, 0}, {self->stop_pipe[0], POLLIN, 0}};
        if (errno == EAGAIN && (poll(pfds, 2, -1) == -1 || pfds[1].revents))
            break;
    }
    if (n != (ssize_t)sizeof(msg))
        zb_docker_msg_destroy(&msg);
}

static void s_on_msg(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    zb_docker_t *self = arg;
    zb_docker_msg_t *msgs[64];
    ssize_t n = read(fd, msgs, sizeof(msgs));
    for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(msgs[0]); i++)
        self->fn(msgs[i], self->arg);
}

//  HTTP, in the thread

static size_t s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    zb_docker_t *self = arg;
    size_t len = size * nmemb;
    if (self->body_len + len > ZB_DOCKER_BODY_MAX)
        return 0; // fails the transfer
    char *body = realloc(self->body, self->body_len + len + 1);
    if (!body)
        return 0;
    memcpy(body + self->body_len, data, len);
    self->body = body;
    self->body_len += len;
    body[self->body_len] = '\0';
    return len;
}

static int s_on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    zb_docker_t *self = arg;
    return atomic_load(&self->stopping) ? 1 : 0; // non-zero aborts
}

static void s_easy_setup(zb_docker_t *self, CURL *easy, const char *path, long timeout_ms)
{
    char url[4096];
    snprintf(url, sizeof(url), "http://docker%s", path);
    curl_easy_reset(easy);
    curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, self->socket);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    if (timeout_ms > 0)
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, s_on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, self);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "zbeat-agent");
}

//  GET path -> parsed JSON (NULL with err set).
static json_t *s_get(zb_docker_t *self, const char *path, char *err, size_t errsize)
{
    s_easy_setup(self, self->easy, path, ZB_DOCKER_TIMEOUT_MS);
    curl_easy_setopt(self->easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(self->easy, CURLOPT_WRITEDATA, self);
    self->body_len = 0;
    CURLcode rc = curl_easy_perform(self->easy);
    long status = 0;
    curl_easy_getinfo(self->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        snprintf(err, errsize, "GET %.200s: %s", path, curl_easy_strerror(rc));
        return NULL;
    }
    if (status != 200) {
        snprintf(err, errsize, "GET %.200s: HTTP %ld", path, status);
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(self->body ? self->body : "", self->body_len, 0, &jerr);
    if (!doc)
        snprintf(err, errsize, "GET %.200s: bad JSON: %s", path, jerr.text);
    return doc;
}

static const char *s_str(json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));
    return text ? text : "";
}

//  Inspects a container and says CONTAINER when it is one to probe.
static int s_inspect(zb_docker_t *self, const char *id)
{
    char path[128], err[512];
    snprintf(path, sizeof(path), "/containers/%.64s/json", id);
    json_t *doc = s_get(self, path, err, sizeof(err));
    if (!doc) {
        //  Gone between the list (or event) and now: its events follow.
        zb_log_debug("docker: %s", err);
        return strstr(err, "HTTP 404") ? 0 : -1;
    }
    //  One that shares another's network namespace takes that one's
    //  networks (without them: a published port, or not probed).
    json_t *owner = NULL;
    const char *shared = zb_docker_msg_netns(doc);
    if (shared) {
        snprintf(path, sizeof(path), "/containers/%.100s/json", shared);
        owner = s_get(self, path, err, sizeof(err));
        if (!owner)
            zb_log_warning("docker: container %s: %s", id, err);
    }
    zb_docker_msg_t *msg = zb_docker_msg_container(doc, owner);
    json_decref(owner);
    json_decref(doc);
    if (msg)
        s_send(self, msg);
    return 0;
}

//  The events stream

static size_t s_on_events(char *data, size_t size, size_t nmemb, void *arg)
{
    zb_docker_t *self = arg;
    size_t len = size * nmemb;
    if (self->line_len + len > ZB_DOCKER_LINE_MAX)
        return 0; // a runaway stream: end it, the next session resyncs
    if (self->line_len + len + 1 > self->line_alloc) {
        size_t want = (self->line_len + len + 1) * 2;
        char *line = realloc(self->line, want);
        if (!line)
            return 0;
        self->line = line;
        self->line_alloc = want;
    }
    memcpy(self->line + self->line_len, data, len);
    self->line_len += len;
    return len;
}

static void s_on_event(zb_docker_t *self, json_t *event)
{
    if (strcmp(s_str(event, "Type"), "container") != 0)
        return;
    const char *action = s_str(event, "Action");
    json_t *actor = json_object_get(event, "Actor");
    const char *id = s_str(actor, "ID");
    json_t *attributes = json_object_get(actor, "Attributes");
    //  Events carry the container's labels among their attributes.
    if (!id[0] || !zb_docker_msg_labelled(attributes))
        return;
    zb_docker_what_t what;
    if (strcmp(action, "start") == 0) {
        if (s_inspect(self, id) == -1)
            zb_log_warning("docker: cannot inspect %.12s after its start", id);
        return;
    } else if (strcmp(action, "kill") == 0)
        what = ZB_DOCKER_KILL;
    else if (strcmp(action, "die") == 0)
        what = ZB_DOCKER_DIE;
    else if (strcmp(action, "stop") == 0)
        what = ZB_DOCKER_STOP;
    else if (strcmp(action, "oom") == 0)
        what = ZB_DOCKER_OOM;
    else if (strcmp(action, "destroy") == 0)
        what = ZB_DOCKER_DESTROY;
    else if (strncmp(action, "health_status: ", 15) == 0)
        what = ZB_DOCKER_HEALTH; // "health_status: healthy" (or unhealthy, starting)
    else
        return;
    zb_docker_msg_t *msg = zb_docker_msg_new(what, id);
    if (msg) {
        msg->exit_code = atoi(s_str(attributes, "exitCode"));
        //  Killed by SIGKILL: the OOM killer's, if the engine knows already.
        if (what == ZB_DOCKER_DIE && msg->exit_code == 137) {
            char path[128], err[512];
            snprintf(path, sizeof(path), "/containers/%.64s/json", id);
            json_t *doc = s_get(self, path, err, sizeof(err));
            msg->oom_killed =
                json_is_true(json_object_get(json_object_get(doc, "State"), "OOMKilled"));
            json_decref(doc);
        }
        msg->unhealthy = strcmp(action + (what == ZB_DOCKER_HEALTH ? 15 : 0), "unhealthy") == 0;
        const char *signal = s_str(attributes, "signal");
        msg->signal = atoi(signal);
        //  Newer engines may name it.
        if (!msg->signal && strcmp(signal, "SIGKILL") == 0)
            msg->signal = 9;
        else if (!msg->signal && signal[0])
            msg->signal = 15;
    }
    s_send(self, msg);
}

//  Handles every complete line in the stream's buffer.
static void s_events_drain(zb_docker_t *self)
{
    size_t start = 0;
    for (size_t i = 0; i < self->line_len; i++) {
        if (self->line[i] != '\n')
            continue;
        json_t *event = json_loadb(self->line + start, i - start, 0, NULL);
        if (event)
            s_on_event(self, event);
        json_decref(event);
        start = i + 1;
    }
    //  Nothing handled (an empty or unfinished line, or no buffer yet):
    //  nothing to move.
    if (start == 0)
        return;
    memmove(self->line, self->line + start, self->line_len - start);
    self->line_len -= start;
}

static char *s_filters_query(zb_docker_t *self, bool events)
{
    json_t *filters = json_deep_copy(self->filters);
    if (events)
        json_object_set_new(filters, "type", json_pack("[s]", "container"));
    char *text = json_dumps(filters, JSON_COMPACT);
    json_decref(filters);
    char *escaped = text ? curl_easy_escape(self->easy, text, 0) : NULL;
    free(text);
    return escaped;
}

//  Waits up to ms for the events stream; returns 1 when it ended, 0 when
//  still running, -1 when stopping.
static int s_events_pump(zb_docker_t *self, int ms, CURLcode *result)
{
    struct curl_waitfd stop = {self->stop_pipe[0], CURL_WAIT_POLLIN, 0};
    int running = 0;
    curl_multi_perform(self->multi, &running);
    if (running)
        curl_multi_poll(self->multi, &stop, 1, ms, NULL);
    if (atomic_load(&self->stopping))
        return -1;
    curl_multi_perform(self->multi, &running);
    CURLMsg *info;
    int left;
    while ((info = curl_multi_info_read(self->multi, &left)))
        if (info->msg == CURLMSG_DONE) {
            *result = info->data.result;
            return 1;
        }
    return running ? 0 : 1;
}

static void s_lost(zb_docker_t *self, const char *what, const char *why)
{
    if (self->lost_said)
        return;
    self->lost_said = true;
    zb_docker_msg_t *msg = zb_docker_msg_new(ZB_DOCKER_LOST, NULL);
    if (msg) //  cut to fit: a long curl error must not hide the start
        snprintf(msg->text, sizeof(msg->text), "docker: %s%.200s", what, why);
    s_send(self, msg);
}

//  One session: subscribe, list, follow. Returns when the stream ends (or
//  the thread must stop); true when the list was read (backoff resets).
static bool s_session(zb_docker_t *self)
{
    bool synced = false;
    char err[512];
    char *query = s_filters_query(self, true);
    char path[4096];
    snprintf(path, sizeof(path), "/events?filters=%s", query ? query : "");
    curl_free(query);
    s_easy_setup(self, self->events, path, 0);
    curl_easy_setopt(self->events, CURLOPT_WRITEFUNCTION, s_on_events);
    curl_easy_setopt(self->events, CURLOPT_WRITEDATA, self);
    self->line_len = 0;
    curl_multi_add_handle(self->multi, self->events);
    CURLcode result = CURLE_OK;
    //  Subscribed once the response's headers are in: from then on no
    //  event is missed while the list is read.
    long status = 0;
    int ended = 0;
    for (int waited = 0; !status && ended == 0 && waited < ZB_DOCKER_SUBSCRIBE_MS; waited += 100) {
        ended = s_events_pump(self, 100, &result);
        curl_easy_getinfo(self->events, CURLINFO_RESPONSE_CODE, &status);
    }
    if (ended == -1)
        goto done;
    if (status != 200) {
        snprintf(err, sizeof(err), "%s",
                 ended ? curl_easy_strerror(result) : "no answer from the events stream");
        if (status)
            snprintf(err, sizeof(err), "GET /events: HTTP %ld", status);
        s_lost(self, "", err);
        goto done;
    }
    query = s_filters_query(self, false);
    snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", query ? query : "");
    curl_free(query);
    json_t *list = s_get(self, path, err, sizeof(err));
    if (!list) {
        s_lost(self, "", err);
        goto done;
    }
    s_send(self, zb_docker_msg_new(ZB_DOCKER_SYNC, NULL));
    size_t i;
    json_t *item;
    bool complete = true;
    json_array_foreach(list, i, item)
    {
        if (zb_docker_msg_labelled(json_object_get(item, "Labels")) &&
            s_inspect(self, s_str(item, "Id")) == -1)
            complete = false;
    }
    json_decref(list);
    if (!complete) {
        s_lost(self, "", "an inspect failed during the list");
        goto done;
    }
    s_send(self, zb_docker_msg_new(ZB_DOCKER_SYNCED, NULL));
    if (self->lost_said)
        zb_log_info("docker: API at %s back: resynced", self->socket);
    self->lost_said = false;
    synced = true;
    while ((ended = s_events_pump(self, 1000, &result)) == 0)
        s_events_drain(self);
    if (ended == 1) {
        s_events_drain(self);
        s_lost(self, "the events stream ended: ", curl_easy_strerror(result));
    }
done:
    curl_multi_remove_handle(self->multi, self->events);
    return synced;
}

static void *s_thread(void *arg)
{
    zb_docker_t *self = arg;
    int backoff = ZB_DOCKER_BACKOFF_MIN_MS;
    while (!atomic_load(&self->stopping)) {
        if (s_session(self))
            backoff = ZB_DOCKER_BACKOFF_MIN_MS;
        struct pollfd pfd = {self->stop_pipe[0], POLLIN, 0};
        if (atomic_load(&self->stopping) || poll(&pfd, 1, backoff) != 0)
            break;
        backoff = backoff * 2 > ZB_DOCKER_BACKOFF_MAX_MS ? ZB_DOCKER_BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

zb_docker_t *zb_docker_new(zb_loop_t *loop, const char *url, const char *filter, zb_docker_fn *fn,
                           void *arg, char *err, size_t errsize)
{
    assert(loop && url && fn);
    if (zb_docker_url_check(url, err, errsize) == -1)
        return NULL;
    zb_docker_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    //  Once, before the thread (the agent is single-threaded here).
    curl_global_init(CURL_GLOBAL_DEFAULT);
    self->loop = loop;
    self->fn = fn;
    self->arg = arg;
    self->msg_pipe[0] = self->msg_pipe[1] = self->stop_pipe[0] = self->stop_pipe[1] = -1;
    snprintf(self->socket, sizeof(self->socket), "%s", url + 7);
    self->filters = s_filters_parse(filter, err, errsize);
    if (!self->filters)
        goto failed;
    if (pipe2(self->msg_pipe, O_CLOEXEC) == -1 || pipe2(self->stop_pipe, O_CLOEXEC) == -1) {
        snprintf(err, errsize, "pipe: %s", strerror(errno));
        goto failed;
    }
    fcntl(self->msg_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(self->msg_pipe[1], F_SETFL, O_NONBLOCK);
    self->easy = curl_easy_init();
    self->events = curl_easy_init();
    self->multi = curl_multi_init();
    if (!self->easy || !self->events || !self->multi) {
        snprintf(err, errsize, "libcurl: out of memory");
        goto failed;
    }
    if (zb_loop_add_fd(loop, self->msg_pipe[0], ZB_LOOP_READ, s_on_msg, self) == -1) {
        snprintf(err, errsize, "epoll: %s", strerror(errno));
        goto failed;
    }
    int rc = pthread_create(&self->thread, NULL, s_thread, self);
    if (rc != 0) {
        zb_loop_del_fd(loop, self->msg_pipe[0]);
        snprintf(err, errsize, "thread: %s", strerror(rc));
        goto failed;
    }
    self->started = true;
    return self;
failed:
    zb_docker_destroy(&self);
    return NULL;
}

void zb_docker_destroy(zb_docker_t **self_p)
{
    assert(self_p);
    zb_docker_t *self = *self_p;
    if (!self)
        return;
    if (self->started) {
        atomic_store(&self->stopping, true);
        close(self->stop_pipe[1]); // wakes the thread's poll
        self->stop_pipe[1] = -1;
        pthread_join(self->thread, NULL);
        zb_loop_del_fd(self->loop, self->msg_pipe[0]);
        //  What the loop did not read yet.
        zb_docker_msg_t *msg;
        while (read(self->msg_pipe[0], &msg, sizeof(msg)) == (ssize_t)sizeof(msg))
            zb_docker_msg_destroy(&msg);
    }
    if (self->multi)
        curl_multi_cleanup(self->multi);
    if (self->events)
        curl_easy_cleanup(self->events);
    if (self->easy)
        curl_easy_cleanup(self->easy);
    for (int i = 0; i < 2; i++) {
        if (self->msg_pipe[i] != -1)
            close(self->msg_pipe[i]);
        if (self->stop_pipe[i] != -1)
            close(self->stop_pipe[i]);
    }
    json_decref(self->filters);
    free(self->body);
    free(self->line);
    free(self);
    *self_p = NULL;
}

//  Self-test: the parts that need no engine (the rest is
//  tests/integration/test_agent_docker.py, against a real one).
void zb_docker_test(bool verbose)
{
    (void)verbose;
    char err[256];
    assert(zb_docker_url_check("unix:///var/run/docker.sock", err, sizeof(err)) == 0);
    assert(zb_docker_url_check("tcp://127.0.0.1:2375", err, sizeof(err)) == -1);
    assert(strstr(err, "is not unix:///path/to/docker.sock"));
    assert(zb_docker_url_check("unix://docker.sock", err, sizeof(err)) == -1);

    json_t *filters =
        s_filters_parse("label=com.docker.compose.project=shop  label=tier", err, sizeof(err));
    assert(filters);
    char *text = json_dumps(filters, JSON_COMPACT);
    assert(strcmp(text, "{\"label\":[\"com.docker.compose.project=shop\",\"tier\"]}") == 0);
    free(text);
    json_decref(filters);
    filters = s_filters_parse(NULL, err, sizeof(err));
    assert(filters && json_object_size(filters) == 0);
    json_decref(filters);
    assert(zb_docker_filter_check("status=running", err, sizeof(err)) == -1);
    assert(strstr(err, "\"status=running\" is not label=KEY"));
    assert(zb_docker_filter_check("label=", err, sizeof(err)) == -1);
}
