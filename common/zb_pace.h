/*  zb_pace: input taken in rounds while it comes fast, as network cards
    moderate interrupts.

    A reader that drains a ZeroMQ socket whenever it is readable wakes once
    a message when messages arrive one at a time, and so does every thread
    behind it (ZeroMQ's I/O thread signals the reader, which signals its
    consumer): at 100,000 messages a second that is most of a core. A
    reader that is busy (ZB_PACE_BUSY_RATE messages a second or more over its
    last window) instead sleeps out the rest of a round after draining, so
    ZeroMQ signals it once a round and it passes a round's messages on at
    once. The cost: a message that arrives while the reader sleeps waits
    for the round's end, at most ZB_PACE_ROUND_US. Rounds go on after a
    spell of fast input until a quieter window has been counted: the rest
    of the spell's window and the next one (ZB_PACE_BUSY_WINDOW_US each as
    a rule; longer when the reader's poll returns late, so a few hundred ms
    at most). A reader that was quiet over its last window never sleeps, so
    a lone event on a quiet fleet goes on as it arrives.

    Used by the monitor's input thread (zb_intake) and the relay's loop. */
#ifndef ZB_PACE_H
#define ZB_PACE_H

#include <stdbool.h>
#include <stdint.h>

#define ZB_PACE_BUSY_RATE 5000        // messages a second from which rounds are taken
#define ZB_PACE_BUSY_WINDOW_US 100000 // the rate is judged over this long
#define ZB_PACE_ROUND_US 1000         // a round's length while busy

typedef struct {
    int64_t window_us; // start of the current window
    uint64_t count;    // messages taken in it
    bool busy;         // the last window's verdict
} zb_pace_t;

//  A pace whose first window starts now.
void zb_pace_init(zb_pace_t *self);

//  After a round that began at round_start_us (zb_time_mono_us) and took
//  taken messages: counts them, judges the window when it is over, and
//  while busy sleeps out the rest of the round (not after a round that
//  took nothing: the reader then waits for input as it comes).
void zb_pace_round(zb_pace_t *self, int taken, int64_t round_start_us);

void zb_pace_test(bool verbose);

#endif
