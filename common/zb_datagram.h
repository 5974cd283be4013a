/*  zb_datagram: the liveness datagram (docs/protocol.md, "Liveness
    datagrams").

    Beside the ZeroMQ stream, an agent sends each monitor that asks for them
    a small UDP datagram every udp-beat: it says only "this agent run is
    alive", so a lost one costs nothing and nothing queues behind it (a
    beat on TCP waits out the retransmission backoff of everything before
    it). Layout, integers big-endian:

        0   3  magic "ZBU"
        3   1  version (1)
        4   1  flags: bit 0 sealed
        5   1  host length n (1 to ZB_NAME_MAX)
        6   n  host
        body, in clear (flags 0) or sealed (flags 1):
            16  instance (hex)
             8  seq (per agent run, from 1)
             4  interval_ms (the sender's udp-beat)
             4  changes (the agent's service-table change counter)
        sealed: 32 sender's public key, 24 nonce, then crypto_box of
            host length + host + body (16 bytes of MAC + 33 + n)

    The host travels twice when sealed: in clear so the monitor can find the
    key without opening anything, inside the box so that the clear one
    cannot be swapped. This module is pure (no sockets): encode, decode,
    seal and open, each bounded by the buffer it is given.
*/
#ifndef ZB_DATAGRAM_H
#define ZB_DATAGRAM_H

#include "zb_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_DATAGRAM_VERSION 1
#define ZB_DATAGRAM_KEY 32   // a Curve25519 key, raw
#define ZB_DATAGRAM_NONCE 24 // crypto_box's
#define ZB_DATAGRAM_MAC 16   // crypto_box's
#define ZB_DATAGRAM_BODY (ZB_INSTANCE_LEN + 8 + 4 + 4)
//  The largest datagram: a sealed one with the longest host name.
#define ZB_DATAGRAM_MAX                                                                            \
    (6 + ZB_NAME_MAX + ZB_DATAGRAM_KEY + ZB_DATAGRAM_NONCE + ZB_DATAGRAM_MAC + 1 + ZB_NAME_MAX +   \
     ZB_DATAGRAM_BODY)

typedef struct {
    char host[ZB_NAME_MAX + 1];
    char instance[ZB_INSTANCE_LEN + 1];
    uint64_t seq;
    uint32_t interval_ms;
    uint32_t changes;
    bool sealed;                         // decoded: it came sealed (key below)
    uint8_t sender_key[ZB_DATAGRAM_KEY]; // decoded sealed: the sender's public key
} zb_datagram_t;

//  A precomputed crypto_box key (crypto_box_beforenm): one scalar
//  multiplication per key pair, not one per datagram.
typedef struct {
    uint8_t shared[32];
} zb_datagram_key_t;

//  Computes the shared key from one side's secret and the other's public
//  key. Returns 0, or -1 when the public key is unusable.
int zb_datagram_key(zb_datagram_key_t *key, const uint8_t their_public[ZB_DATAGRAM_KEY],
                    const uint8_t our_secret[ZB_DATAGRAM_KEY]);

//  Encodes dg into buf (at least ZB_DATAGRAM_MAX bytes): in clear when key
//  is NULL, else sealed with key and our_public (the sender's key, sent so
//  the monitor can look it up). Returns the length, or -1 when dg holds a
//  bad host or instance.
int zb_datagram_encode(const zb_datagram_t *dg, const zb_datagram_key_t *key,
                       const uint8_t our_public[ZB_DATAGRAM_KEY], uint8_t *buf, size_t size);

//  Decodes the part readable without a key: host, and for a clear datagram
//  everything else; sealed ones get sender_key and sealed set. Returns 0,
//  or -1 with a reason in why (truncated, bad magic, version, name).
int zb_datagram_peek(const uint8_t *buf, size_t len, zb_datagram_t *dg, const char **why);

//  Opens a sealed datagram peeked into dg with key: fills the rest.
//  Returns 0, or -1 (forged, or the clear host does not match the sealed
//  one) with a reason in why.
int zb_datagram_open(const uint8_t *buf, size_t len, const zb_datagram_key_t *key,
                     zb_datagram_t *dg, const char **why);

void zb_datagram_test(bool verbose);

#endif
