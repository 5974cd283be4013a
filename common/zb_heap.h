/*  zb_heap: an indexed 4-ary min-heap of deadlines.

    The monitor's fleet keeps one node per host, keyed by when that host
    must next be looked at (goes silent, a name conflict ends); a sweep pops
    only what is due instead of walking every host. zb_loop keeps its timers
    in one (the agent's probes, push deadlines). Nodes are embedded in their
    owner's struct (no allocation per update) and hold a handle to their
    position, so moving a key is O(log n) and removal needs no search.
*/
#ifndef ZB_HEAP_H
#define ZB_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t key;  // when (monotonic ms)
    size_t index; // 0 when not in the heap; else its handle there + 1 (the heap's own)
} zb_heap_node_t;

typedef struct _zb_heap_t zb_heap_t;

zb_heap_t *zb_heap_new(void);
void zb_heap_destroy(zb_heap_t **self_p);

//  Inserts node or moves it to key. Returns 0, or -1 out of memory (node
//  then not in the heap).
int zb_heap_set(zb_heap_t *self, zb_heap_node_t *node, int64_t key);
void zb_heap_remove(zb_heap_t *self, zb_heap_node_t *node);
//  The node with the smallest key, NULL when empty.
zb_heap_node_t *zb_heap_top(zb_heap_t *self);
size_t zb_heap_size(zb_heap_t *self);

void zb_heap_test(bool verbose);

#endif
