/*  zb_table: named items. See zb_table.h. */
#include "zb_table.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZB_TABLE_MIN 8 // slots in a new table (a power of 2)

typedef struct {
    const char *key; // NULL: empty
    uint32_t hash;
    void *item;
} s_slot_t;

struct _zb_table_t {
    s_slot_t *slots;
    size_t capacity; // a power of 2, at least twice size
    size_t size;
    size_t cursor; // the walk's slot
    zb_table_free_fn *free_fn;
};

//  FNV-1a: names are short; this is cheap and spreads them well enough.
static uint32_t s_hash(const char *key)
{
    uint32_t hash = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        hash = (hash ^ *p) * 16777619u;
    return hash;
}

//  The slot holding key, or the empty one where it would go.
static size_t s_find(const zb_table_t *self, const char *key, uint32_t hash)
{
    size_t mask = self->capacity - 1;
    size_t i = hash & mask;
    while (self->slots[i].key &&
           (self->slots[i].hash != hash || strcmp(self->slots[i].key, key) != 0))
        i = (i + 1) & mask;
    return i;
}

static int s_grow(zb_table_t *self)
{
    size_t capacity = self->capacity ? self->capacity * 2 : ZB_TABLE_MIN;
    s_slot_t *slots = calloc(capacity, sizeof(*slots));
    if (!slots)
        return -1;
    s_slot_t *old = self->slots;
    size_t old_capacity = self->capacity;
    self->slots = slots;
    self->capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].key)
            self->slots[s_find(self, old[i].key, old[i].hash)] = old[i];
    free(old);
    return 0;
}

zb_table_t *zb_table_new(zb_table_free_fn *free_fn)
{
    zb_table_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->free_fn = free_fn;
    if (s_grow(self) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void zb_table_destroy(zb_table_t **self_p)
{
    assert(self_p);
    zb_table_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->capacity && self->free_fn; i++)
        if (self->slots[i].key)
            self->free_fn(self->slots[i].item);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

void *zb_table_lookup(zb_table_t *self, const char *key)
{
    assert(self && key);
    return self->slots[s_find(self, key, s_hash(key))].item;
}

int zb_table_insert(zb_table_t *self, const char *key, void *item)
{
    assert(self && key && item);
    if ((self->size + 1) * 2 > self->capacity && s_grow(self) != 0)
        return -1;
    uint32_t hash = s_hash(key);
    size_t i = s_find(self, key, hash);
    if (self->slots[i].key)
        return -1;
    self->slots[i] = (s_slot_t){key, hash, item};
    self->size++;
    return 0;
}

void zb_table_delete(zb_table_t *self, const char *key)
{
    assert(self && key);
    size_t mask = self->capacity - 1;
    size_t i = s_find(self, key, s_hash(key));
    if (!self->slots[i].key)
        return;
    void *item = self->slots[i].item;
    //  Backward shift: later items of the run move up into the hole unless
    //  their home slot lies after it (cyclically), so lookups never meet a
    //  hole before their item, and no tombstones pile up.
    for (size_t j = (i + 1) & mask; self->slots[j].key; j = (j + 1) & mask) {
        size_t home = self->slots[j].hash & mask;
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        self->slots[i] = self->slots[j];
        i = j;
    }
    self->slots[i] = (s_slot_t){0};
    self->size--;
    if (self->free_fn)
        self->free_fn(item);
}

size_t zb_table_size(zb_table_t *self)
{
    assert(self);
    return self->size;
}

void *zb_table_first(zb_table_t *self)
{
    assert(self);
    self->cursor = 0;
    for (; self->cursor < self->capacity; self->cursor++)
        if (self->slots[self->cursor].key)
            return self->slots[self->cursor].item;
    return NULL;
}

void *zb_table_next(zb_table_t *self)
{
    assert(self);
    while (self->cursor < self->capacity) {
        self->cursor++;
        if (self->cursor < self->capacity && self->slots[self->cursor].key)
            return self->slots[self->cursor].item;
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  Self-test: against a plain array, through growth and many deletes.

void zb_table_test(bool verbose)
{
    (void)verbose;
    enum { N = 3000 };
    static char names[N][16];
    static bool listed[N];
    zb_table_t *table = zb_table_new(NULL);
    assert(table && zb_table_size(table) == 0 && !zb_table_first(table));
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "host-%d", i);
        assert(zb_table_insert(table, names[i], names[i]) == 0);
        listed[i] = true;
    }
    assert(zb_table_insert(table, "host-7", names[7]) == -1); // listed already
    assert(zb_table_size(table) == N);
    //  Delete every third, then check every lookup and one full walk.
    for (int i = 0; i < N; i += 3) {
        zb_table_delete(table, names[i]);
        listed[i] = false;
    }
    zb_table_delete(table, "nobody");
    for (int i = 0; i < N; i++)
        assert(zb_table_lookup(table, names[i]) == (listed[i] ? names[i] : NULL));
    size_t walked = 0;
    for (char *name = zb_table_first(table); name; name = zb_table_next(table)) {
        int i = atoi(name + 5);
        assert(listed[i] && name == names[i]);
        walked++;
    }
    assert(walked == zb_table_size(table) && walked == N - (N + 2) / 3);
    //  Insert again after deletes: found where lookups look.
    for (int i = 0; i < N; i += 3)
        assert(zb_table_insert(table, names[i], names[i]) == 0);
    for (int i = 0; i < N; i++)
        assert(zb_table_lookup(table, names[i]) == names[i]);
    zb_table_destroy(&table);
    assert(!table);

    //  Items are freed on delete and at destroy.
    table = zb_table_new(free);
    assert(table);
    for (int i = 0; i < 20; i++) {
        char *name = strdup(names[i]);
        assert(name && zb_table_insert(table, name, name) == 0);
    }
    zb_table_delete(table, names[4]);
    assert(zb_table_size(table) == 19);
    zb_table_destroy(&table);
}
