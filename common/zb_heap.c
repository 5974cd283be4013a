/*  zb_heap: an indexed 4-ary min-heap of deadlines. See zb_heap.h. */
#include "zb_heap.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Keys sit in the array beside a handle of their nodes, four children to a
//  parent: a sift compares children that share a cache line instead of
//  following a pointer to each, over half the levels of a binary heap. At
//  100,000 hosts (a cache miss per pointer) the pointers were most of a
//  move's cost.
#define S_ARITY 4
typedef struct {
    int64_t key;
    uint32_t handle; // the node's, in nodes[] and at[]
} s_entry_t;

//  ...and the four children of a node in one cache line, not two (entries
//  of 16 bytes): the array starts S_SHIFT entries into a line-aligned
//  block, so children (S_ARITY * i + 1 to S_ARITY * i + 4) begin on a line.
#define S_LINE 64
#define S_SHIFT (S_ARITY - 1)
#define S_NONE UINT32_MAX

//  Where each node is lives in the heap (at[], by the node's handle), not in
//  the node: every entry a sift moves records its new place, and in the
//  node that was a write into its owner's struct (a host, cold at 100,000
//  hosts): 86% of a sift's time in perf. at[] is 4 bytes a node and stays
//  in the cache.
struct _zb_heap_t {
    s_entry_t *entries;     // the heap, entries[0] the smallest key
    void *block;            // what entries is in
    uint32_t *at;           // by handle: the node's position in entries; a free
                            // handle: the next free one (S_NONE ends the list)
    zb_heap_node_t **nodes; // by handle: the node
    uint32_t free;          // the first free handle, S_NONE when none
    uint32_t handles;       // handles handed out so far (free ones included)
    size_t size;
    size_t cap; // of entries, at and nodes alike
};

//  Room for cap entries (the first S_SHIFT into a line) and handles; 0 or -1.
static int s_room(zb_heap_t *self, size_t cap)
{
    if (cap > S_NONE)
        return -1;
    size_t bytes = (cap + S_SHIFT) * sizeof(s_entry_t);
    void *block = aligned_alloc(S_LINE, (bytes + S_LINE - 1) / S_LINE * S_LINE);
    uint32_t *at = realloc(self->at, cap * sizeof(*at));
    if (at)
        self->at = at;
    zb_heap_node_t **nodes = at ? realloc(self->nodes, cap * sizeof(*nodes)) : NULL;
    if (nodes)
        self->nodes = nodes;
    if (!block || !nodes) {
        free(block);
        return -1;
    }
    s_entry_t *entries = (s_entry_t *)block + S_SHIFT;
    if (self->size)
        memcpy(entries, self->entries, self->size * sizeof(*entries));
    free(self->block);
    self->block = block;
    self->entries = entries;
    self->cap = cap;
    return 0;
}

zb_heap_t *zb_heap_new(void)
{
    zb_heap_t *self = calloc(1, sizeof(zb_heap_t));
    if (self)
        self->free = S_NONE;
    return self;
}

void zb_heap_destroy(zb_heap_t **self_p)
{
    assert(self_p);
    zb_heap_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++)
        self->nodes[self->entries[i].handle]->index = 0;
    free(self->block);
    free(self->at);
    free(self->nodes);
    free(self);
    *self_p = NULL;
}

static void s_place(zb_heap_t *self, size_t i, s_entry_t entry)
{
    self->entries[i] = entry;
    self->at[entry.handle] = (uint32_t)i;
}

static void s_up(zb_heap_t *self, size_t i)
{
    s_entry_t entry = self->entries[i];
    while (i > 0) {
        size_t parent = (i - 1) / S_ARITY;
        if (self->entries[parent].key <= entry.key)
            break;
        s_place(self, i, self->entries[parent]);
        i = parent;
    }
    s_place(self, i, entry);
}

static void s_down(zb_heap_t *self, size_t i)
{
    s_entry_t entry = self->entries[i];
    for (;;) {
        size_t first = S_ARITY * i + 1;
        if (first >= self->size)
            break;
        size_t end = first + S_ARITY < self->size ? first + S_ARITY : self->size;
        size_t child = first;
        for (size_t c = first + 1; c < end; c++)
            if (self->entries[c].key < self->entries[child].key)
                child = c;
        if (self->entries[child].key >= entry.key)
            break;
        s_place(self, i, self->entries[child]);
        i = child;
    }
    s_place(self, i, entry);
}

int zb_heap_set(zb_heap_t *self, zb_heap_node_t *node, int64_t key)
{
    assert(self && node);
    if (node->index) {
        size_t i = self->at[node->index - 1];
        int64_t old = node->key;
        node->key = key;
        self->entries[i].key = key;
        if (key < old)
            s_up(self, i);
        else
            s_down(self, i);
        return 0;
    }
    if (self->size == self->cap && s_room(self, self->cap ? self->cap * 2 : 64) != 0)
        return -1;
    //  A free handle, or a new one (all in use: handles == size < cap).
    uint32_t handle = self->free;
    if (handle != S_NONE)
        self->free = self->at[handle];
    else
        handle = self->handles++;
    self->nodes[handle] = node;
    node->index = (size_t)handle + 1;
    node->key = key;
    s_place(self, self->size++, (s_entry_t){key, handle});
    s_up(self, self->size - 1);
    return 0;
}

void zb_heap_remove(zb_heap_t *self, zb_heap_node_t *node)
{
    assert(self && node);
    if (!node->index)
        return;
    uint32_t handle = (uint32_t)(node->index - 1);
    size_t i = self->at[handle];
    node->index = 0;
    self->at[handle] = self->free;
    self->free = handle;
    s_entry_t last = self->entries[--self->size];
    if (last.handle == handle)
        return;
    s_place(self, i, last);
    s_up(self, i);
    s_down(self, self->at[last.handle]);
}

zb_heap_node_t *zb_heap_top(zb_heap_t *self)
{
    assert(self);
    return self->size ? self->nodes[self->entries[0].handle] : NULL;
}

size_t zb_heap_size(zb_heap_t *self)
{
    assert(self);
    return self->size;
}

void zb_heap_test(bool verbose)
{
    if (verbose)
        printf(" * zb_heap: ");
    zb_heap_t *heap = zb_heap_new();
    assert(heap && !zb_heap_top(heap));
    zb_heap_node_t nodes[500] = {{0, 0}};
    uint64_t state = 7;
    for (size_t i = 0; i < 500; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        assert(zb_heap_set(heap, &nodes[i], (int64_t)(state >> 40)) == 0);
    }
    //  Moves up and down, removals from the middle.
    for (size_t i = 0; i < 500; i += 3)
        zb_heap_set(heap, &nodes[i], nodes[i].key / 2 + (int64_t)(i % 2) * 100000000);
    for (size_t i = 1; i < 500; i += 7)
        zb_heap_remove(heap, &nodes[i]);
    zb_heap_remove(heap, &nodes[1]); // not in it: nothing
    //  Back in, on the handles the removals freed.
    for (size_t i = 1; i < 500; i += 14)
        zb_heap_set(heap, &nodes[i], (int64_t)i * 1000);
    assert(zb_heap_size(heap) == 500 - 72 + 36 && heap->handles == 500);
    int64_t last = INT64_MIN;
    size_t popped = 0;
    for (zb_heap_node_t *top = zb_heap_top(heap); top; top = zb_heap_top(heap)) {
        assert(top->key >= last);
        last = top->key;
        zb_heap_remove(heap, top);
        popped++;
    }
    assert(popped == 500 - 72 + 36 && zb_heap_size(heap) == 0);
    if (sizeof(s_entry_t) * S_ARITY == S_LINE)
        assert((uintptr_t)(heap->entries + 1) % S_LINE == 0);
    zb_heap_set(heap, &nodes[0], 5);
    zb_heap_destroy(&heap);
    assert(nodes[0].index == 0);
    if (verbose)
        printf("OK\n");
}
