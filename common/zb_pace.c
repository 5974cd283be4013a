/*  zb_pace: input taken in rounds while it comes fast. See zb_pace.h. */
#include "zb_pace.h"
#include "zb_time.h"

#include <assert.h>
#include <stdio.h>
#include <time.h>

void zb_pace_init(zb_pace_t *self)
{
    assert(self);
    *self = (zb_pace_t){.window_us = zb_time_mono_us()};
}

//  Whether the round must sleep: the verdict is the last whole window's,
//  so a spell of fast input is followed by rounds until a quieter window
//  has been counted (the rest of the spell's and the next one).
static bool s_busy(zb_pace_t *self, int64_t now)
{
    if (now - self->window_us >= ZB_PACE_BUSY_WINDOW_US) {
        self->busy = self->count * 1000000 >=
                     (uint64_t)ZB_PACE_BUSY_RATE * (uint64_t)(now - self->window_us);
        self->window_us = now;
        self->count = 0;
    }
    return self->busy;
}

void zb_pace_round(zb_pace_t *self, int taken, int64_t round_start_us)
{
    assert(self && taken >= 0);
    self->count += (uint64_t)taken;
    int64_t now = zb_time_mono_us();
    int64_t rest = round_start_us + ZB_PACE_ROUND_US - now;
    if (s_busy(self, now) && taken > 0 && rest > 0) {
        struct timespec ts = {0, (long)rest * 1000};
        nanosleep(&ts, NULL);
    }
}

//  --------------------------------------------------------------------------
//  Self-test: rounds only while busy, never longer than a round, never
//  after an empty one.

void zb_pace_test(bool verbose)
{
    if (verbose)
        printf(" * zb_pace: ");
    zb_pace_t pace;
    zb_pace_init(&pace);
    //  A first window of no input: not busy, so rounds never sleep.
    pace.window_us -= ZB_PACE_BUSY_WINDOW_US;
    int64_t start = zb_time_mono_us();
    zb_pace_round(&pace, 1, start);
    assert(!pace.busy);

    //  A window at twice the busy rate: the next rounds sleep to their end.
    zb_pace_init(&pace);
    pace.window_us -= ZB_PACE_BUSY_WINDOW_US;
    pace.count = 2 * ZB_PACE_BUSY_RATE / 10;
    start = zb_time_mono_us();
    zb_pace_round(&pace, 1, start);
    assert(pace.busy);
    assert(zb_time_mono_us() - start >= ZB_PACE_ROUND_US);
    //  A round that began long ago is over: no sleep.
    start = zb_time_mono_us();
    zb_pace_round(&pace, 1, start - 10 * ZB_PACE_ROUND_US);
    assert(pace.busy);
    //  An empty round never sleeps, busy or not.
    zb_pace_round(&pace, 0, zb_time_mono_us());

    //  A quiet window after it: rounds stop sleeping.
    pace.window_us -= ZB_PACE_BUSY_WINDOW_US;
    pace.count = 0;
    zb_pace_round(&pace, 1, zb_time_mono_us());
    assert(!pace.busy);
    if (verbose)
        printf("OK\n");
}
