/*  zb_journal: the agent's bounded record of its transitions. See zb_journal.h. */
#include "zb_journal.h"
#include "zb_log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *line;                         // "topic\tjson", one allocation
    const char *json;                   // inside line
    char instance[ZB_INSTANCE_LEN + 1]; // of the event
    uint64_t seq;                       // of the event
    uint32_t acked;                     // one bit per monitor
} s_entry_t;

struct _zb_journal_t {
    char *path;        // NULL: memory only
    char *old_path;    // path.1
    int fd;            // path, appending; -1 when none
    size_t file_lines; // lines in path: it rotates at capacity
    bool dirty;        // written since the last sync
    bool failing;      // the last write failed (logged once)
    s_entry_t *ring;   // capacity entries; id i at ring[i % capacity]
    size_t capacity;
    uint64_t first; // oldest id held
    uint64_t end;   // next id
    size_t skipped; // unreadable lines at load
};

static s_entry_t *s_entry(zb_journal_t *self, uint64_t id)
{
    assert(id >= self->first && id < self->end);
    return &self->ring[id % self->capacity];
}

//  Takes line (a heap "topic\tjson" without newline) when it is an event.
static int s_add(zb_journal_t *self, char *line)
{
    char *tab = strchr(line, '\t');
    if (!tab)
        return -1;
    char err[256];
    zb_msg_t *msg =
        zb_msg_decode(line, (size_t)(tab - line), tab + 1, strlen(tab + 1), err, sizeof(err));
    if (!msg || msg->type != ZB_MSG_EVENT) {
        zb_msg_destroy(&msg);
        return -1;
    }
    if (self->end - self->first == self->capacity) {
        free(self->ring[self->first % self->capacity].line);
        self->first++;
    }
    s_entry_t *entry = &self->ring[self->end % self->capacity];
    self->end++;
    entry->line = line;
    entry->json = tab + 1;
    memcpy(entry->instance, msg->instance, sizeof(entry->instance));
    entry->seq = msg->seq;
    entry->acked = 0;
    zb_msg_destroy(&msg);
    return 0;
}

//  Reads a journal file; returns its line count (0 when missing), or -1.
static long s_load(zb_journal_t *self, const char *path, bool *torn)
{
    FILE *file = fopen(path, "re");
    if (!file)
        return errno == ENOENT ? 0 : -1;
    long lines = 0;
    char *buf = NULL;
    size_t size = 0;
    ssize_t len;
    *torn = false;
    while ((len = getline(&buf, &size, file)) != -1) {
        lines++;
        bool whole = len > 0 && buf[len - 1] == '\n';
        if (whole)
            buf[--len] = '\0';
        else
            *torn = true;
        char *line = whole ? strdup(buf) : NULL;
        if (!line || s_add(self, line) != 0) {
            free(line);
            self->skipped++;
        }
    }
    free(buf);
    fclose(file);
    return lines;
}

zb_journal_t *zb_journal_new(const char *path, size_t capacity, char *err, size_t errsize)
{
    zb_journal_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    self->fd = -1;
    self->capacity = capacity ? capacity : ZB_JOURNAL_MAX;
    self->ring = calloc(self->capacity, sizeof(*self->ring));
    if (!self->ring) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    if (!path)
        return self;
    self->path = strdup(path);
    size_t old_size = strlen(path) + 3;
    self->old_path = malloc(old_size);
    if (!self->path || !self->old_path) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    snprintf(self->old_path, old_size, "%s.1", path);
    bool torn = false;
    if (s_load(self, self->old_path, &torn) < 0) {
        snprintf(err, errsize, "%s: %s", self->old_path, strerror(errno));
        goto failed;
    }
    long lines = s_load(self, path, &torn);
    if (lines < 0) {
        snprintf(err, errsize, "%s: %s", path, strerror(errno));
        goto failed;
    }
    self->file_lines = (size_t)lines;
    self->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (self->fd == -1) {
        snprintf(err, errsize, "%s: %s", path, strerror(errno));
        goto failed;
    }
    //  A torn last line must not swallow the next one.
    if (torn && write(self->fd, "\n", 1) != 1) {
        snprintf(err, errsize, "%s: %s", path, strerror(errno));
        goto failed;
    }
    if (self->skipped)
        zb_log_warning("journal %s: %zu damaged lines skipped", path, self->skipped);
    return self;
failed:
    zb_journal_destroy(&self);
    return NULL;
}

void zb_journal_destroy(zb_journal_t **self_p)
{
    assert(self_p);
    zb_journal_t *self = *self_p;
    if (!self)
        return;
    if (self->fd != -1) {
        zb_journal_sync(self);
        close(self->fd);
    }
    if (self->ring)
        for (uint64_t id = self->first; id < self->end; id++)
            free(s_entry(self, id)->line);
    free(self->ring);
    free(self->path);
    free(self->old_path);
    free(self);
    *self_p = NULL;
}

static int s_rotate(zb_journal_t *self)
{
    zb_journal_sync(self);
    close(self->fd);
    self->fd = -1;
    if (rename(self->path, self->old_path) == -1)
        return -1;
    self->fd = open(self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (self->fd == -1)
        return -1;
    self->file_lines = 0;
    return 0;
}

static int s_write(zb_journal_t *self, const char *line, size_t len)
{
    if (self->fd == -1 || self->file_lines >= self->capacity) {
        if (s_rotate(self) == -1)
            return -1;
    }
    //  One write per line (O_APPEND): a crash leaves at most one torn line.
    ssize_t done = write(self->fd, line, len);
    if (done != (ssize_t)len) {
        if (done >= 0)
            errno = ENOSPC;
        return -1;
    }
    self->file_lines++;
    self->dirty = true;
    return 0;
}

int zb_journal_append(zb_journal_t *self, const zb_msg_t *event)
{
    assert(self && event && event->type == ZB_MSG_EVENT && event->seq > 0);
    char *topic = NULL, *json = NULL;
    char err[256];
    if (zb_msg_encode(event, &topic, &json, err, sizeof(err)) == -1) {
        zb_log_error("journal: %s", err);
        return -1;
    }
    size_t topic_len = strlen(topic), json_len = strlen(json);
    char *line = malloc(topic_len + json_len + 3);
    int rc = -1;
    if (!line) {
        zb_log_error("journal: out of memory");
        goto done;
    }
    memcpy(line, topic, topic_len);
    line[topic_len] = '\t';
    memcpy(line + topic_len + 1, json, json_len);
    line[topic_len + 1 + json_len] = '\n';
    line[topic_len + 2 + json_len] = '\0';
    rc = 0;
    if (self->path) {
        if (s_write(self, line, topic_len + json_len + 2) == -1) {
            if (!self->failing)
                zb_log_error("journal %s: cannot write (%s): transitions are kept in memory only "
                             "until it works again",
                             self->path, strerror(errno));
            self->failing = true;
            rc = -1;
        } else if (self->failing) {
            zb_log_info("journal %s: writing again", self->path);
            self->failing = false;
        }
    }
    line[topic_len + 1 + json_len] = '\0';
    if (s_add(self, line) != 0) {
        free(line);
        rc = -1;
    }
done:
    free(topic);
    free(json);
    return rc;
}

void zb_journal_sync(zb_journal_t *self)
{
    assert(self);
    if (self->fd != -1 && self->dirty && fdatasync(self->fd) == -1 && !self->failing) {
        zb_log_error("journal %s: fdatasync: %s", self->path, strerror(errno));
        self->failing = true;
    }
    self->dirty = false;
}

uint64_t zb_journal_first(zb_journal_t *self)
{
    assert(self);
    return self->first;
}

uint64_t zb_journal_end(zb_journal_t *self)
{
    assert(self);
    return self->end;
}

const char *zb_journal_topic(zb_journal_t *self, uint64_t id)
{
    return s_entry(self, id)->line;
}

const char *zb_journal_json(zb_journal_t *self, uint64_t id)
{
    return s_entry(self, id)->json;
}

const char *zb_journal_instance(zb_journal_t *self, uint64_t id)
{
    return s_entry(self, id)->instance;
}

uint64_t zb_journal_seq(zb_journal_t *self, uint64_t id)
{
    return s_entry(self, id)->seq;
}

void zb_journal_set_acked(zb_journal_t *self, uint64_t id, unsigned bit)
{
    assert(bit < 32);
    s_entry(self, id)->acked |= (uint32_t)1 << bit;
}

bool zb_journal_acked(zb_journal_t *self, uint64_t id, unsigned bit)
{
    assert(bit < 32);
    return (s_entry(self, id)->acked >> bit) & 1;
}

size_t zb_journal_skipped(zb_journal_t *self)
{
    assert(self);
    return self->skipped;
}

//  Self-test

static zb_msg_t *s_test_event(uint64_t seq)
{
    zb_msg_t *msg = zb_msg_new(ZB_MSG_EVENT);
    assert(msg);
    snprintf(msg->host, sizeof(msg->host), "web-1");
    memcpy(msg->instance, "0123456789abcdef", ZB_INSTANCE_LEN + 1);
    msg->seq = seq;
    msg->time_ms = 1764300000000 + (int64_t)seq;
    snprintf(msg->service, sizeof(msg->service), "redis");
    msg->from = ZB_STATE_UP;
    msg->to = ZB_STATE_DOWN;
    msg->at_ms = msg->time_ms;
    snprintf(msg->reason, sizeof(msg->reason), "refused");
    snprintf(msg->error, sizeof(msg->error), "tab\there");
    return msg;
}

void zb_journal_test(bool verbose)
{
    printf(" * zb_journal: ");
    zb_log_init("zb_journal_test", verbose);
    char dir[] = "/tmp/zb_journal_test.XXXXXX";
    assert(mkdtemp(dir));
    char path[128], old_path[140];
    snprintf(path, sizeof(path), "%s/journal", dir);
    snprintf(old_path, sizeof(old_path), "%s.1", path);
    char err[256];

    //  Memory only: bounded, ids stay absolute.
    zb_journal_t *journal = zb_journal_new(NULL, 4, err, sizeof(err));
    assert(journal);
    for (uint64_t seq = 1; seq <= 6; seq++) {
        zb_msg_t *msg = s_test_event(seq);
        assert(zb_journal_append(journal, msg) == 0);
        zb_msg_destroy(&msg);
    }
    assert(zb_journal_first(journal) == 2 && zb_journal_end(journal) == 6);
    assert(zb_journal_seq(journal, 2) == 3 && zb_journal_seq(journal, 5) == 6);
    assert(strncmp(zb_journal_topic(journal, 5), "event.web-1\t", 12) == 0);
    assert(strcmp(zb_journal_instance(journal, 5), "0123456789abcdef") == 0);
    zb_journal_set_acked(journal, 3, 5);
    assert(zb_journal_acked(journal, 3, 5) && !zb_journal_acked(journal, 3, 4));
    zb_journal_destroy(&journal);
    zb_journal_destroy(&journal);

    //  On disk: survives a reopen, rotates, keeps the last `capacity`.
    journal = zb_journal_new(path, 3, err, sizeof(err));
    assert(journal);
    for (uint64_t seq = 1; seq <= 7; seq++) {
        zb_msg_t *msg = s_test_event(seq);
        assert(zb_journal_append(journal, msg) == 0);
        zb_msg_destroy(&msg);
    }
    zb_journal_sync(journal);
    zb_journal_destroy(&journal);
    assert(access(old_path, F_OK) == 0);
    //  A torn last line (a crash mid-write) and junk are skipped.
    FILE *file = fopen(path, "a");
    assert(file);
    fputs("not a journal line\n", file);
    fputs("event.web-1\t{\"v\":1,\"ty", file);
    fclose(file);
    journal = zb_journal_new(path, 3, err, sizeof(err));
    assert(journal);
    assert(zb_journal_skipped(journal) == 2);
    assert(zb_journal_end(journal) - zb_journal_first(journal) == 3);
    assert(zb_journal_seq(journal, zb_journal_end(journal) - 1) == 7);
    assert(zb_journal_seq(journal, zb_journal_first(journal)) == 5);
    zb_msg_t *msg = s_test_event(8);
    assert(zb_journal_append(journal, msg) == 0);
    zb_msg_destroy(&msg);
    zb_journal_destroy(&journal);
    journal = zb_journal_new(path, 3, err, sizeof(err));
    assert(journal && zb_journal_seq(journal, zb_journal_end(journal) - 1) == 8);
    zb_journal_destroy(&journal);

    //  An unusable path is an error, not a crash.
    assert(!zb_journal_new("/nonexistent-dir/journal", 0, err, sizeof(err)));
    assert(strstr(err, "/nonexistent-dir/journal"));

    unlink(path);
    unlink(old_path);
    rmdir(dir);
    printf("OK\n");
}
