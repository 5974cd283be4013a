/*  zb_table: named items, for zb_fleet (hosts by name, a host's services by
    name). Open addressing with linear probing; the key is the item's own
    name, not copied, so it must stay in the item while the item is listed.
    One walk at a time per table, with no insert or delete during it.
*/
#ifndef ZB_TABLE_H
#define ZB_TABLE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _zb_table_t zb_table_t;
typedef void(zb_table_free_fn)(void *item);

//  free_fn (may be NULL) frees an item deleted or left at destroy.
zb_table_t *zb_table_new(zb_table_free_fn *free_fn);
void zb_table_destroy(zb_table_t **self_p);

void *zb_table_lookup(zb_table_t *self, const char *key);
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
