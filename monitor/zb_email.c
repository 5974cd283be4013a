/*  zb_email: the email channel. See zb_email.h. */
#include "zb_email.h"
#include "zb_time.h"

#include <assert.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *s_text(json_t *alert, const char *key)
{
    const char *text = json_string_value(json_object_get(alert, key));
    return text ? text : "";
}

//  A header value on one line, ASCII: anything else becomes '?', so a
//  reason or error text cannot add headers.
static void s_header_safe(const char *text, char *out, size_t size)
{
    size_t i = 0;
    for (; text[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[i] = '\0';
}

//  A value in the body on one line (a line break would be a bare LF).
static void s_line(FILE *out, const char *text)
{
    for (; *text; text++)
        fputc(*text == '\r' || *text == '\n' ? ' ' : *text, out);
}

char *zb_email_message(const char *payload, const char *from, const char *to, int64_t now_ms)
{
    assert(payload && from && to);
    json_t *alert = json_loads(payload, 0, NULL);
    if (!alert || !json_string_value(json_object_get(alert, "summary")) ||
        !json_string_value(json_object_get(alert, "id"))) {
        json_decref(alert);
        return NULL;
    }
    char subject[512], id[256], date[64];
    s_header_safe(s_text(alert, "summary"), subject, sizeof(subject));
    s_header_safe(s_text(alert, "id"), id, sizeof(id));
    //  Message-ID: the alert id made an addr-spec; the same alert sent
    //  twice (at-least-once) has the same one, so mail clients can merge.
    for (char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.'))
            *c = '.';
    time_t seconds = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        json_decref(alert);
        return NULL;
    }
    fprintf(out,
            "From: zbeat <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
            "Message-ID: <%s@zbeat>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            "X-Zbeat-Alert: %s\r\n\r\n",
            from, to, subject, date, id, s_text(alert, "id"));
    s_line(out, s_text(alert, "summary"));
    fprintf(out, "\r\n\r\n");
    //  The alert JSON's facts, one a line; those that do not apply left out.
    static const char *const fields[][2] = {
        {"trigger", "Trigger"},         {"host", "Host"},
        {"service", "Service"},         {"state", "State"},
        {"reason", "Reason"},           {"error", "Error"},
        {"outage_id", "Outage"},        {"started_at", "Started"},
        {"ended_at", "Ended"},          {"duration_s", "Duration (s)"},
        {"transitions", "Transitions"}, {"reminder", "Reminder"},
        {"created_at", "Created"},      {"id", "Alert id"}};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *value = json_object_get(alert, fields[i][0]);
        if (json_is_string(value) && *json_string_value(value)) {
            fprintf(out, "%-13s ", fields[i][1]);
            s_line(out, json_string_value(value));
            fprintf(out, "\r\n");
        } else if (json_is_integer(value))
            fprintf(out, "%-13s %lld\r\n", fields[i][1], (long long)json_integer_value(value));
        else if (json_is_real(value))
            fprintf(out, "%-13s %.3f\r\n", fields[i][1], json_real_value(value));
    }
    fprintf(out, "\r\n-- \r\nzbeat-monitor\r\n");
    fclose(out);
    json_decref(alert);
    return text;
}

typedef struct {
    const char *text;
    size_t left;
} s_reader_t;

static size_t s_read(char *buffer, size_t size, size_t count, void *arg)
{
    s_reader_t *reader = arg;
    size_t n = size * count < reader->left ? size * count : reader->left;
    memcpy(buffer, reader->text, n);
    reader->text += n;
    reader->left -= n;
    return n;
}

static int s_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    const atomic_bool *stop = arg;
    return stop && atomic_load(stop) ? 1 : 0;
}

int zb_email_send(const char *smtp, const char *from, const char *to, const char *message,
                  int64_t timeout_ms, const atomic_bool *stop, char *error, size_t size)
{
    assert(smtp && from && to && message && error);
    error[0] = '\0';
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *rcpt = NULL;
    int rc = -1;
    CURL *curl = curl_easy_init();
    for (const char *start = to; curl && *start;) {
        size_t len = strcspn(start, ",");
        char address[512];
        snprintf(address, sizeof(address), "<%.*s>", (int)len, start);
        struct curl_slist *more = curl_slist_append(rcpt, address);
        if (!more)
            goto done;
        rcpt = more;
        start += len + (start[len] == ',');
    }
    if (!curl || !rcpt) {
        snprintf(error, size, "out of memory");
        goto done;
    }
    char sender[512];
    snprintf(sender, sizeof(sender), "<%s>", from);
    s_reader_t reader = {message, strlen(message)};
    curl_easy_setopt(curl, CURLOPT_URL, smtp);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    //  smtp://: STARTTLS when the server offers it; smtps:// is TLS anyway.
    curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, sender);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, s_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &reader);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, s_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)stop);
    CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK)
        snprintf(error, size, "%s", *errbuf ? errbuf : curl_easy_strerror(code));
    else
        rc = 0;
done:
    curl_slist_free_all(rcpt);
    if (curl)
        curl_easy_cleanup(curl);
    return rc;
}

void zb_email_test(bool verbose)
{
    (void)verbose;
    const char *down =
        "{\"v\":1,\"id\":\"web-1/redis/42/down\",\"trigger\":\"down\",\"host\":\"web-1\","
        "\"service\":\"redis\",\"state\":\"down\",\"reason\":\"refused\","
        "\"error\":\"connect: Connection refused\\r\\nBcc: x@evil\",\"outage_id\":42,"
        "\"started_at\":\"2026-11-28T08:49:02.513Z\",\"ended_at\":null,\"duration_s\":0.021,"
        "\"created_at\":\"2026-11-28T08:49:02.534Z\",\"transitions\":null,\"window_s\":null,"
        "\"reminder\":null,\"summary\":\"DOWN web-1/redis: refused\\nBcc: x@evil\"}";
    char *mail = zb_email_message(down, "zbeat@mon", "a@x,b@y", 1764319742534);
    assert(mail);
    assert(strstr(mail, "From: zbeat <zbeat@mon>\r\nTo: a@x,b@y\r\n"));
    //  The line break in the summary does not make a header.
    assert(strstr(mail, "Subject: DOWN web-1/redis: refused?Bcc: x@evil\r\n"));
    assert(!strstr(mail, "\r\nBcc:"));
    assert(strstr(mail, "Message-ID: <web-1.redis.42.down@zbeat>\r\n"));
    assert(strstr(mail, "Date: Fri, 28 Nov 2025 08:49:02 +0000\r\n"));
    assert(strstr(mail, "\r\n\r\nDOWN web-1/redis: refused Bcc: x@evil\r\n"));
    assert(strstr(mail, "Error         connect: Connection refused  Bcc: x@evil\r\n"));
    assert(strstr(mail, "Host          web-1\r\n"));
    assert(strstr(mail, "Outage        42\r\n"));
    assert(strstr(mail, "Duration (s)  0.021\r\n"));
    assert(!strstr(mail, "Ended"));
    free(mail);
    assert(!zb_email_message("{}", "a@b", "c@d", 0));

    char error[256];
    assert(curl_global_init(CURL_GLOBAL_DEFAULT) == 0);
    assert(zb_email_send("smtp://127.0.0.1:1", "a@b", "c@d", "x\r\n", 2000, NULL, error,
                         sizeof(error)) == -1);
    assert(*error);
    curl_global_cleanup();
}
