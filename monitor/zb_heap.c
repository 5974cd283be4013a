/*  zb_heap: an indexed binary min-heap of deadlines. See zb_heap.h. */
#include "zb_heap.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

struct _zb_heap_t {
    zb_heap_node_t **nodes; // the heap, nodes[0] the smallest key
    size_t size;
    size_t cap;
};

zb_heap_t *zb_heap_new(void)
{
    return calloc(1, sizeof(zb_heap_t));
}

void zb_heap_destroy(zb_heap_t **self_p)
{
    assert(self_p);
    zb_heap_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++)
        self->nodes[i]->index = 0;
    free(self->nodes);
    free(self);
    *self_p = NULL;
}

static void s_place(zb_heap_t *self, size_t i, zb_heap_node_t *node)
{
    self->nodes[i] = node;
    node->index = i + 1;
}

static void s_up(zb_heap_t *self, size_t i)
{
    zb_heap_node_t *node = self->nodes[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (self->nodes[parent]->key <= node->key)
            break;
        s_place(self, i, self->nodes[parent]);
        i = parent;
    }
    s_place(self, i, node);
}

static void s_down(zb_heap_t *self, size_t i)
{
    zb_heap_node_t *node = self->nodes[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && self->nodes[child + 1]->key < self->nodes[child]->key)
            child++;
        if (self->nodes[child]->key >= node->key)
            break;
        s_place(self, i, self->nodes[child]);
        i = child;
    }
    s_place(self, i, node);
}

int zb_heap_set(zb_heap_t *self, zb_heap_node_t *node, int64_t key)
{
    assert(self && node);
    if (node->index) {
        int64_t old = node->key;
        node->key = key;
        if (key < old)
            s_up(self, node->index - 1);
        else
            s_down(self, node->index - 1);
        return 0;
    }
    if (self->size == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        zb_heap_node_t **nodes = realloc(self->nodes, cap * sizeof(*nodes));
        if (!nodes)
            return -1;
        self->nodes = nodes;
        self->cap = cap;
    }
    node->key = key;
    s_place(self, self->size++, node);
    s_up(self, self->size - 1);
    return 0;
}

void zb_heap_remove(zb_heap_t *self, zb_heap_node_t *node)
{
    assert(self && node);
    if (!node->index)
        return;
    size_t i = node->index - 1;
    node->index = 0;
    zb_heap_node_t *last = self->nodes[--self->size];
    if (last == node)
        return;
    s_place(self, i, last);
    s_up(self, i);
    s_down(self, last->index - 1);
}

zb_heap_node_t *zb_heap_top(zb_heap_t *self)
{
    assert(self);
    return self->size ? self->nodes[0] : NULL;
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
    int64_t last = INT64_MIN;
    size_t popped = 0;
    for (zb_heap_node_t *top = zb_heap_top(heap); top; top = zb_heap_top(heap)) {
        assert(top->key >= last);
        last = top->key;
        zb_heap_remove(heap, top);
        popped++;
    }
    assert(popped == 500 - 72 && zb_heap_size(heap) == 0);
    zb_heap_set(heap, &nodes[0], 5);
    zb_heap_destroy(&heap);
    assert(nodes[0].index == 0);
    if (verbose)
        printf("OK\n");
}
