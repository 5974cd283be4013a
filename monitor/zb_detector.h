/*  zb_detector: one host's adaptive silence threshold (docs/operations.md,
    "The silence detector").

    Everything heard from a host (ZeroMQ messages and liveness datagrams)
    goes in; out comes how long the host may stay unheard before it is
    silent. Two regimes:

    - datagrams flowing (one heard within the current threshold): the
      datagrams are independent, so a silence of t means about
      floor((t - margin) / beat) datagrams lost in a row. With a loss rate p
      that has probability p^k: the suspicion is phi(t) = k x -log10(p), the
      accrual failure detector's phi (Hayashibara et al.) with a geometric
      loss model instead of a normal one (a normal fitted to arrival gaps
      has far too thin a tail for bursts of loss). The threshold is where
      phi reaches `phi` (monitor option): k = ceil(phi / -log10 p) beats plus
      a margin of four mean deviations of arrival times (delay jitter). p is
      estimated from the datagrams' sequence numbers (an EWMA, seeded
      pessimistically) and never taken below ZB_DETECTOR_LOSS_FLOOR.
    - ZeroMQ only (no datagrams, or they stopped while messages go on): the
      classic rule, liveness x the beat interval the host announced, extended
      up to liveness-max when the host's own gaps (mean + z(phi) standard
      deviations, an EWMA of every gap between arrivals no longer than the
      threshold then: a longer one was a silence, not jitter) say it needs
      more.

    Both are bounded by liveness-min and liveness-max (the classic rule may
    exceed liveness-max: a host beating every 30 s is never judged by a
    10 s bound). Pure: clocks in, numbers out.
*/
#ifndef ZB_DETECTOR_H
#define ZB_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#define ZB_DETECTOR_LOSS_FLOOR 0.02 // p never assumed below this
#define ZB_DETECTOR_LOSS_PRIOR 0.1  // a new stream's p, worth ...
#define ZB_DETECTOR_PRIOR_WEIGHT 10 // ...this many datagrams
#define ZB_DETECTOR_WINDOW 200      // EWMA weight 1/this once warmed up

typedef struct {
    int64_t min_ms; // liveness-min
    int64_t max_ms; // liveness-max
    double phi;     // suspicion threshold (-log10 of the false-silence odds per arrival)
    int liveness;   // beats a ZeroMQ-only host may miss
    //  The normal quantile phi asks for, worked out once by
    //  zb_detector_config_phi and used while z_phi == phi: every message
    //  needs a threshold, and pow and log made a tenth of the monitor's
    //  loop at 100,000 messages a second. (A config set field by field
    //  works it out on every call, as before.)
    double z_phi, z;
} zb_detector_config_t;

//  Sets config->phi and its quantile.
void zb_detector_config_phi(zb_detector_config_t *config, double phi);

typedef struct {
    //  What every message reads or writes first (one cache line).
    int64_t last_mono;      // anything heard, 0 never
    double gap_mean;        // EWMA of gaps between arrivals (ms)
    double gap_var;         // ...and of their variance
    uint64_t arrivals;      // counted (for the warm-up weight)
    int64_t dg_mono;        // last datagram, 0 never
    int64_t lag_min;        // messages' smallest arrival - send time seen (ms): skew + path
    bool udp;               // judged by datagrams (set at each arrival)
    bool lagged;            // lag_min is set
    uint64_t dg_seq;        // the last datagram's sequence number
    int64_t dg_interval_ms; // the sender's datagram interval
    double loss;            // estimated datagram loss rate
    double dev;             // EWMA of |arrival - expected| (ms)
    uint64_t datagrams;     // counted (for the warm-up weight)
} zb_detector_t;

//  A ZeroMQ message heard at now (ms, monotonic), lag_ms after it was sent
//  (the monitor's wall clock minus the agent's time_ms; INT64_MIN when
//  unknown). Returns when the message proves the host alive: now, or
//  while datagrams flow, now minus how much later than the fastest this
//  message came (a beat held seconds behind a lost TCP segment, or still
//  queued in a killed agent's socket, proves it alive then, not now). The
//  smallest lag seen is the baseline, so clock skew cancels out; it creeps
//  up after a clock step.
int64_t zb_detector_message(zb_detector_t *self, const zb_detector_config_t *config,
                            int64_t interval_ms, int64_t now, int64_t lag_ms);
//  A datagram (seq of its agent run, the sender's interval). A new run
//  (instance change) should zb_detector_restart first.
void zb_detector_datagram(zb_detector_t *self, const zb_detector_config_t *config,
                          int64_t interval_ms, uint64_t seq, int64_t dg_interval_ms, int64_t now);
//  The datagram sequence starts over (a new agent run); history is kept.
void zb_detector_restart(zb_detector_t *self);

//  How long the host may be unheard (ms), for its announced beat interval.
int64_t zb_detector_threshold(const zb_detector_t *self, const zb_detector_config_t *config,
                              int64_t interval_ms);
//  The loss estimate (0 to 1), -1 when no datagram was heard.
double zb_detector_loss(const zb_detector_t *self);

void zb_detector_test(bool verbose);

#endif
