/*  zb_webhook: HTTP(S) POST through libcurl. See zb_webhook.h. */
#include "zb_webhook.h"
#include "zb_time.h"

#include <assert.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

int zb_webhook_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void zb_webhook_cleanup(void)
{
    curl_global_cleanup();
}

//  The receiver's answer is not needed, only its status.
static size_t s_discard(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

//  Called often during a transfer: a non-zero return aborts it.
static int s_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const atomic_bool *stop = arg;
    return stop && atomic_load(stop) ? 1 : 0;
}

int zb_webhook_post(const char *url, const char *body, int64_t timeout_ms, const atomic_bool *stop,
                    zb_webhook_result_t *result)
{
    return zb_webhook_post_with(url, body, NULL, timeout_ms, stop, result);
}

int zb_webhook_post_with(const char *url, const char *body, const char *extra, int64_t timeout_ms,
                         const atomic_bool *stop, zb_webhook_result_t *result)
{
    assert(url && body && result);
    memset(result, 0, sizeof(*result));
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    int rc = -1;
    CURL *curl = curl_easy_init();
    if (curl)
        headers = curl_slist_append(NULL, "Content-Type: application/json");
    //  The channel's own headers, one a line.
    for (const char *line = extra; headers && line && *line;) {
        size_t len = strcspn(line, "\n");
        char one[2048];
        snprintf(one, sizeof(one), "%.*s", (int)len, line);
        struct curl_slist *more = curl_slist_append(headers, one);
        if (!more) {
            curl_slist_free_all(headers);
            headers = NULL;
        } else
            headers = more;
        line += len + (line[len] == '\n');
    }
    if (!curl || !headers) {
        snprintf(result->error, sizeof(result->error), "out of memory");
        goto done;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "zbeat/" ZB_VERSION);
    //  Threads: no signals (curl's DNS timeout would use SIGALRM otherwise).
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, s_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)stop);
    CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result->http_status);
    if (code != CURLE_OK)
        snprintf(result->error, sizeof(result->error), "%s",
                 *errbuf ? errbuf : curl_easy_strerror(code));
    else if (result->http_status < 200 || result->http_status > 299)
        snprintf(result->error, sizeof(result->error), "HTTP %ld", result->http_status);
    else
        rc = 0;
done:
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    return rc;
}

//  --------------------------------------------------------------------------
//  Self-test: failures only (the integration tests run real receivers).

void zb_webhook_test(bool verbose)
{
    (void)verbose;
    assert(zb_webhook_init() == 0);
    zb_webhook_result_t result;
    //  A port nobody listens on: refused at once.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    assert(bind(fd, (struct sockaddr *)&addr, len) == 0);
    assert(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", ntohs(addr.sin_port));
    assert(zb_webhook_post(url, "{}", 2000, NULL, &result) == -1);
    assert(result.http_status == 0 && *result.error);
    //  Listening but never answering: the timeout ends it.
    assert(listen(fd, 1) == 0);
    int64_t start = zb_time_mono_ms();
    assert(zb_webhook_post(url, "{}", 300, NULL, &result) == -1);
    int64_t took = zb_time_mono_ms() - start;
    assert(took >= 250 && took < 3000);
    //  The stop flag abandons it.
    atomic_bool stop = true;
    start = zb_time_mono_ms();
    assert(zb_webhook_post(url, "{}", 10000, &stop, &result) == -1);
    assert(zb_time_mono_ms() - start < 3000);
    close(fd);
    //  Only http and https.
    assert(zb_webhook_post("file:///etc/passwd", "{}", 1000, NULL, &result) == -1);
    zb_webhook_cleanup();
}
