/*  zb_pool: blocks of one size, from pages of their own.

    Why: a held TLS connection keeps a few hundred bytes for hours, made
    while its handshake passes through tens of KB of buffers that are all
    freed when it ends. Taken from malloc, each of those small blocks lands
    among the freed buffers and pins a page of the heap that malloc_trim
    cannot give back: 8.1 KB of RSS per held https probe was measured with
    1.9 KB of it in use (docs/benchmarks.md, item 4t). Blocks from a pool sit
    side by side in chunks mapped for them.

    A freed block is kept for the next allocation; chunks go back to the
    system only with the pool. One thread.
*/
#ifndef ZB_POOL_H
#define ZB_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _zb_pool_t zb_pool_t;

//  A pool of blocks of size bytes. NULL when out of memory.
zb_pool_t *zb_pool_new(size_t size);
//  Unmaps every chunk: blocks still out are gone with them.
void zb_pool_destroy(zb_pool_t **self_p);
//  A zeroed block; NULL when out of memory.
void *zb_pool_alloc(zb_pool_t *self);
//  Gives a block back (NULL: nothing).
void zb_pool_free(zb_pool_t *self, void *block);
//  Blocks out now.
size_t zb_pool_used(zb_pool_t *self);

void zb_pool_test(bool verbose);

#endif
