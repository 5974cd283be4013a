/*  zb_table: named items, for zb_fleet (hosts by name, a host's services by
    name). Open addressing with linear probing; the key is the item's own
    name, not copied, so it must stay in the item while the item is listed.
    One walk at a time per table, with no insert or delete during it.
*/
#ifndef ZB_TABLE_H
#define ZB_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _zb_table_t zb_table_t;
typedef void(zb_table_free_fn)(void *item);

//  free_fn (may be NULL) frees an item deleted or left at destroy.
zb_table_t *zb_table_new(zb_table_free_fn *free_fn);
void zb_table_destroy(zb_table_t **self_p);

void *zb_table_lookup(zb_table_t *self, const char *key);
//  For prefetching, before a lookup: the hash of the len bytes at key, its
//  slot fetched into the cache, and the item whose key has that hash (keys
//  are not compared: they are in the items, which are what is to be
//  fetched; so it may be another item, or NULL).
uint32_t zb_table_hash(const char *key, size_t len);
void zb_table_prefetch(zb_table_t *self, uint32_t hash);
void *zb_table_guess(zb_table_t *self, uint32_t hash);
//  Returns 0, or -1 when the key is listed already or memory ran out.
int zb_table_insert(zb_table_t *self, const char *key, void *item);
//  Frees the item (free_fn) and forgets it; nothing when not listed.
void zb_table_delete(zb_table_t *self, const char *key);
size_t zb_table_size(zb_table_t *self);

//  A walk over every item, in no given order; NULL at the end.
void *zb_table_first(zb_table_t *self);
void *zb_table_next(zb_table_t *self);

void zb_table_test(bool verbose);

#endif
