/*  zb_keyset: the keys seen in a JSON text. See zb_keyset.h. */
#include "zb_keyset.h"
#include "zb_time.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int zb_keyset_insert(zb_keyset_t *self, uint32_t object, const void *key, size_t len)
{
    const unsigned char *bytes = key;
    //  The first key of a set draws the seed: one system call, and only for
    //  texts our encoder does not make.
    if (!self->size &&
        getrandom(&self->seed, sizeof(self->seed), GRND_NONBLOCK) != sizeof(self->seed))
        self->seed = (uint32_t)(uintptr_t)self ^ (uint32_t)zb_time_mono_ms();
    uint32_t hash = (2166136261u ^ self->seed) + object * 0x9E3779B9u; // FNV-1a, seeded
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ bytes[i]) * 16777619u;
    hash ^= hash >> 16; // the slot is the low bits: mix the high ones in
    hash *= 0x85EBCA6Bu;
    hash ^= hash >> 13;
    if (2 * (self->count + 1) > self->size) {
        size_t size = self->size ? 2 * self->size : 64;
        zb_keyset_slot_t *slots = calloc(size, sizeof(*slots));
        if (!slots)
            return -1;
        for (size_t i = 0; i < self->size; i++) {
            zb_keyset_slot_t *old = &self->slots[i];
            if (!old->object)
                continue;
            size_t at = old->hash & (size - 1);
            while (slots[at].object)
                at = (at + 1) & (size - 1);
            slots[at] = *old;
        }
        free(self->slots);
        self->slots = slots;
        self->size = size;
    }
    size_t at = hash & (self->size - 1);
    for (; self->slots[at].object; at = (at + 1) & (self->size - 1)) {
        zb_keyset_slot_t *slot = &self->slots[at];
        if (slot->object == object && slot->hash == hash && slot->len == len &&
            memcmp(self->text + slot->offset, bytes, len) == 0)
            return 0;
    }
    if (self->text_len + len >= self->text_size) { // never NULL, even for ""
        size_t size = self->text_size ? 2 * self->text_size : 1024;
        while (size < self->text_len + len)
            size *= 2;
        char *text = realloc(self->text, size);
        if (!text)
            return -1;
        self->text = text;
        self->text_size = size;
    }
    memcpy(self->text + self->text_len, bytes, len);
    self->slots[at] = (zb_keyset_slot_t){object, hash, (uint32_t)self->text_len, (uint32_t)len};
    self->text_len += len;
    self->count++;
    return 1;
}

void zb_keyset_clear(zb_keyset_t *self)
{
    free(self->slots);
    free(self->text);
    memset(self, 0, sizeof(*self));
}
