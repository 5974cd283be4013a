/*  zb_pool: blocks of one size, from pages of their own. See zb_pool.h. */
#include "zb_pool.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define S_CHUNK (64 * 1024) // mapped at a time: 200-odd TLS connections
#define S_ALIGN 16

//  A chunk starts with its link to the next; blocks follow.
typedef struct s_chunk_t {
    struct s_chunk_t *next;
} s_chunk_t;

struct _zb_pool_t {
    size_t size; // of a block, rounded up to S_ALIGN
    s_chunk_t *chunks;
    void *free; // freed blocks, each holding the next's address
    char *next; // the current chunk's first block never handed out,
    char *end;  // and its end
    size_t used;
};

zb_pool_t *zb_pool_new(size_t size)
{
    assert(size > 0 && size <= S_CHUNK / 4);
    zb_pool_t *self = calloc(1, sizeof(*self));
    if (self)
        self->size = (size + S_ALIGN - 1) / S_ALIGN * S_ALIGN;
    return self;
}

void zb_pool_destroy(zb_pool_t **self_p)
{
    assert(self_p);
    zb_pool_t *self = *self_p;
    if (!self)
        return;
    while (self->chunks) {
        s_chunk_t *chunk = self->chunks;
        self->chunks = chunk->next;
        munmap(chunk, S_CHUNK);
    }
    free(self);
    *self_p = NULL;
}

void *zb_pool_alloc(zb_pool_t *self)
{
    assert(self);
    void *block = self->free;
    if (block)
        memcpy(&self->free, block, sizeof(void *));
    else {
        if (self->next == NULL || self->next + self->size > self->end) {
            void *map =
                mmap(NULL, S_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (map == MAP_FAILED)
                return NULL;
            s_chunk_t *chunk = map;
            chunk->next = self->chunks;
            self->chunks = chunk;
            self->next = (char *)map + S_ALIGN;
            self->end = (char *)map + S_CHUNK;
        }
        block = self->next;
        self->next += self->size;
    }
    memset(block, 0, self->size);
    self->used++;
    return block;
}

void zb_pool_free(zb_pool_t *self, void *block)
{
    assert(self);
    if (!block)
        return;
    assert(self->used > 0);
    memcpy(block, &self->free, sizeof(void *));
    self->free = block;
    self->used--;
}

size_t zb_pool_used(zb_pool_t *self)
{
    assert(self);
    return self->used;
}

void zb_pool_test(bool verbose)
{
    (void)verbose;
    zb_pool_t *pool = zb_pool_new(100);
    assert(pool && pool->size == 112);
    //  More than a chunk's worth: every block zeroed, aligned, apart.
    enum { N = 2000 };
    unsigned char **blocks = calloc(N, sizeof(*blocks));
    assert(blocks);
    for (int i = 0; i < N; i++) {
        blocks[i] = zb_pool_alloc(pool);
        assert(blocks[i] && (uintptr_t)blocks[i] % S_ALIGN == 0);
        for (int b = 0; b < 100; b++)
            assert(blocks[i][b] == 0);
        memset(blocks[i], i & 0xff, 100);
    }
    assert(zb_pool_used(pool) == N);
    for (int i = 0; i < N; i++)
        for (int b = 0; b < 100; b++)
            assert(blocks[i][b] == (i & 0xff));
    //  Freed blocks come back first, zeroed; no new chunk is mapped.
    s_chunk_t *chunks = pool->chunks;
    zb_pool_free(pool, blocks[7]);
    zb_pool_free(pool, blocks[1500]);
    zb_pool_free(pool, NULL);
    assert(zb_pool_used(pool) == N - 2);
    unsigned char *again = zb_pool_alloc(pool);
    assert(again == blocks[1500] && again[0] == 0 && again[99] == 0);
    assert(zb_pool_alloc(pool) == blocks[7]);
    assert(pool->chunks == chunks && zb_pool_used(pool) == N);
    for (int i = 0; i < N; i++)
        zb_pool_free(pool, blocks[i]);
    assert(zb_pool_used(pool) == 0);
    free(blocks);
    zb_pool_destroy(&pool);
    assert(!pool);
}
