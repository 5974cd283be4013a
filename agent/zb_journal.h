/*  zb_journal: the agent's bounded record of its recent transitions.

    Every event the agent publishes (service transitions and the host's
    stop) is appended here with its instance and sequence number, in memory
    and, when a path is given, on disk, so that monitors that missed it
    (PUB/SUB drops whatever a monitor is not there to receive) get it again
    through zb_replay, even after the agent restarted.

    On disk: PATH holds one line per event, "TOPIC<TAB>JSON", appended with
    write(2) before the event is published (an agent killed at any moment
    keeps everything it published); zb_journal_sync fdatasyncs once per beat
    when anything was written (a power loss may lose the last beat's worth).
    When PATH has ZB_JOURNAL_MAX lines it is renamed PATH.1 (replacing the
    previous one) and a new PATH begins: the disk holds the last
    ZB_JOURNAL_MAX to 2 x ZB_JOURNAL_MAX events; memory holds the last
    ZB_JOURNAL_MAX, read back from both files at start. A torn or damaged
    line (a crash mid-write, a bad disk) is skipped and counted.

    Entries have absolute ids, from zb_journal_first to zb_journal_end - 1,
    that stay valid while older ones are evicted. Each carries up to 32
    "acked" bits, one per monitor (zb_replay's), in memory only.
*/
#ifndef ZB_JOURNAL_H
#define ZB_JOURNAL_H

#include "zb_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_JOURNAL_MAX 10000

typedef struct _zb_journal_t zb_journal_t;

//  Opens (creating) the journal at path, or a memory-only one when path is
//  NULL; capacity 0 means ZB_JOURNAL_MAX. Returns NULL with a reason in err.
zb_journal_t *zb_journal_new(const char *path, size_t capacity, char *err, size_t errsize);
void zb_journal_destroy(zb_journal_t **self_p);

//  Appends an event (its instance and seq must be set). Returns 0, or -1
//  when the disk write failed (logged once per failure streak; the entry
//  is kept in memory all the same) or on out of memory.
int zb_journal_append(zb_journal_t *self, const zb_msg_t *event);

//  fdatasync when anything was written since the last call.
void zb_journal_sync(zb_journal_t *self);

uint64_t zb_journal_first(zb_journal_t *self);
uint64_t zb_journal_end(zb_journal_t *self);

//  The entry id's topic and JSON, instance and seq; id must be in range.
const char *zb_journal_topic(zb_journal_t *self, uint64_t id);
const char *zb_journal_json(zb_journal_t *self, uint64_t id);
const char *zb_journal_instance(zb_journal_t *self, uint64_t id);
uint64_t zb_journal_seq(zb_journal_t *self, uint64_t id);

void zb_journal_set_acked(zb_journal_t *self, uint64_t id, unsigned bit);
bool zb_journal_acked(zb_journal_t *self, uint64_t id, unsigned bit);

//  Lines skipped at load because they did not parse.
size_t zb_journal_skipped(zb_journal_t *self);

void zb_journal_test(bool verbose);

#endif
