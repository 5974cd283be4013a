/*  libFuzzer harness for the liveness datagram codec (zb_datagram). What is
    decoded in clear encodes back to the same bytes; a sealed one is opened
    with a fixed key, which must never crash and (almost always) fails. */
#include "zb_datagram.h"

#include <assert.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static zb_datagram_key_t key;
    static bool keyed;
    if (!keyed) {
        uint8_t public_key[ZB_DATAGRAM_KEY], secret[ZB_DATAGRAM_KEY];
        memset(public_key, 9, sizeof(public_key));
        memset(secret, 7, sizeof(secret));
        assert(zb_datagram_key(&key, public_key, secret) == 0);
        keyed = true;
    }
    zb_datagram_t dg;
    const char *why = NULL;
    if (zb_datagram_peek(data, size, &dg, &why) != 0) {
        assert(why && *why);
        return 0;
    }
    assert(zb_name_valid(dg.host));
    if (dg.sealed) {
        if (zb_datagram_open(data, size, &key, &dg, &why) != 0)
            assert(why && *why);
        return 0;
    }
    uint8_t out[ZB_DATAGRAM_MAX];
    int len = zb_datagram_encode(&dg, NULL, NULL, out, sizeof(out));
    assert(len == (int)size && memcmp(out, data, size) == 0);
    return 0;
}
