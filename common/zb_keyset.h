/*  zb_keyset: the keys seen in a JSON text, to find a duplicate key.

    One set serves a whole text: each key is stored with the id of its
    object, so that a duplicate is found in one probe however many keys an
    object has. Open addressing, at most half full; the hash is seeded per
    set (drawn on the first insert), so crafted keys cannot all collide.
    Used by zb_proto_decode for the keys that no table names.
*/
#ifndef ZB_KEYSET_H
#define ZB_KEYSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t object; // id of the key's object; 0 for a free slot
    uint32_t hash;   // of object and bytes
    uint32_t offset; // of its bytes in text
    uint32_t len;
} zb_keyset_slot_t;

//  Zero-initialised is empty; zb_keyset_clear frees what it holds.
typedef struct {
    zb_keyset_slot_t *slots; // a power of two of them
    size_t size;             // slots
    size_t count;            // slots in use
    char *text;              // the keys' bytes, one after another
    size_t text_len;
    size_t text_size;
    uint32_t seed;
} zb_keyset_t;

//  Adds key (len bytes) of object (an id > 0). Returns 1 when it is new,
//  0 when object has it already, -1 when out of memory.
int zb_keyset_insert(zb_keyset_t *self, uint32_t object, const void *key, size_t len);

//  Frees the set's memory; it is empty again.
void zb_keyset_clear(zb_keyset_t *self);

#endif
