/*  zb_hostset: host sets by name and trailing-* prefix. See zb_hostset.h. */
#include "zb_hostset.h"
#include "zb_msg.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

const char *const zb_hostset_kinds[] = {"beat.", "event.", NULL};

//  The next item of list at *cursor, trimmed: its start in *item and length
//  in *len. Returns false at the end.
static bool s_next(const char **cursor, const char **item, size_t *len)
{
    const char *p = *cursor;
    if (!p || !*p)
        return false;
    const char *end = strchr(p, ',');
    if (!end)
        end = p + strlen(p);
    *cursor = *end ? end + 1 : end;
    while (p < end && *p == ' ')
        p++;
    const char *last = end;
    while (last > p && last[-1] == ' ')
        last--;
    *item = p;
    *len = (size_t)(last - p);
    return true;
}

static bool s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int zb_hostset_check(const char *list, char *err, size_t errsize)
{
    assert(list && err);
    const char *cursor = list, *item;
    size_t len;
    int count = 0;
    while (s_next(&cursor, &item, &len)) {
        if (++count > ZB_HOSTSET_MAX) {
            snprintf(err, errsize, "more than %d patterns", ZB_HOSTSET_MAX);
            return -1;
        }
        if (len == 0) {
            snprintf(err, errsize, "an empty pattern (two commas, or one at an end)");
            return -1;
        }
        size_t name_len = item[len - 1] == '*' ? len - 1 : len;
        for (size_t i = 0; i < name_len; i++) {
            if (item[i] == '*') {
                snprintf(err, errsize,
                         "\"%.*s\": only a trailing * is allowed (a shard subscribes by "
                         "prefix: web-*)",
                         (int)(len > 80 ? 80 : len), item);
                return -1;
            }
            if (!s_name_char(item[i]) ||
                (i == 0 && (item[0] == '.' || item[0] == '_' || item[0] == '-'))) {
                snprintf(err, errsize,
                         "\"%.*s\" is not a host name or a prefix of one followed by * (names are "
                         "A-Z a-z 0-9 . _ -, starting with a letter or digit)",
                         (int)(len > 80 ? 80 : len), item);
                return -1;
            }
        }
        if (name_len > ZB_NAME_MAX) {
            snprintf(err, errsize, "\"%.*s...\" is longer than a host name (%d)", 40, item,
                     ZB_NAME_MAX);
            return -1;
        }
    }
    if (count == 0 && *list) {
        snprintf(err, errsize, "no pattern given");
        return -1;
    }
    return 0;
}

bool zb_hostset_match(const char *list, const char *host)
{
    assert(host);
    if (!list || !*list)
        return true;
    const char *cursor = list, *item;
    size_t len;
    size_t host_len = strlen(host);
    while (s_next(&cursor, &item, &len)) {
        if (len && item[len - 1] == '*') {
            if (host_len >= len - 1 && memcmp(host, item, len - 1) == 0)
                return true;
        } else if (host_len == len && memcmp(host, item, len) == 0)
            return true;
    }
    return false;
}

int zb_hostset_topics(const char *list, void (*fn)(const char *topic, void *arg), void *arg)
{
    assert(fn);
    bool all = !list || !*list;
    const char *cursor = list, *item;
    size_t len;
    while (!all && s_next(&cursor, &item, &len))
        all = len == 1 && item[0] == '*';
    if (all) {
        fn("", arg);
        return 1;
    }
    int calls = 0;
    for (int k = 0; zb_hostset_kinds[k]; k++) {
        cursor = list;
        while (s_next(&cursor, &item, &len)) {
            char topic[ZB_NAME_MAX + 16];
            size_t prefix = len && item[len - 1] == '*' ? len - 1 : len;
            snprintf(topic, sizeof(topic), "%s%.*s", zb_hostset_kinds[k], (int)prefix, item);
            fn(topic, arg);
            calls++;
        }
    }
    return calls;
}

//  --------------------------------------------------------------------------
//  Self-test

typedef struct {
    char seen[512];
} s_topics_t;

static void s_collect(const char *topic, void *arg)
{
    s_topics_t *topics = arg;
    size_t used = strlen(topics->seen);
    snprintf(topics->seen + used, sizeof(topics->seen) - used, "[%s]", topic);
}

void zb_hostset_test(bool verbose)
{
    (void)verbose;
    char err[256];
    assert(zb_hostset_check("", err, sizeof(err)) == 0);
    assert(zb_hostset_check("web-*, db-*,mail-1", err, sizeof(err)) == 0);
    assert(zb_hostset_check("*", err, sizeof(err)) == 0);
    assert(zb_hostset_check("web-*-eu", err, sizeof(err)) == -1);
    assert(strstr(err, "only a trailing *"));
    assert(zb_hostset_check("*web", err, sizeof(err)) == -1);
    assert(zb_hostset_check("web-?", err, sizeof(err)) == -1);
    assert(strstr(err, "not a host name"));
    assert(zb_hostset_check("web-*,,db-*", err, sizeof(err)) == -1);
    assert(strstr(err, "empty pattern"));
    assert(zb_hostset_check("-web*", err, sizeof(err)) == -1);
    assert(zb_hostset_check(" , ", err, sizeof(err)) == -1);

    assert(zb_hostset_match("", "anything"));
    assert(zb_hostset_match(NULL, "anything"));
    assert(zb_hostset_match("*", "anything"));
    assert(zb_hostset_match("web-*, db-*", "db-7"));
    assert(zb_hostset_match("web-*", "web-"));
    assert(!zb_hostset_match("web-*, db-*", "mail-1"));
    assert(zb_hostset_match("mail-1", "mail-1"));
    assert(!zb_hostset_match("mail-1", "mail-10"));
    assert(!zb_hostset_match("mail-10", "mail-1"));

    s_topics_t topics = {""};
    assert(zb_hostset_topics("web-*, db-1", s_collect, &topics) == 4);
    assert(strcmp(topics.seen, "[beat.web-][beat.db-1][event.web-][event.db-1]") == 0);
    topics.seen[0] = '\0';
    assert(zb_hostset_topics("web-*,*", s_collect, &topics) == 1);
    assert(strcmp(topics.seen, "[]") == 0);
    topics.seen[0] = '\0';
    assert(zb_hostset_topics("", s_collect, &topics) == 1);
    assert(strcmp(topics.seen, "[]") == 0);
}
