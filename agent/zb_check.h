/*  zb_check: one probe, once, told step by step (zbeat-agent --probe-once).

    Connects to a probe's target, sends its ping, reads the reply and judges
    it by zb_probe's rules for a single check (the same reasons, `fails`
    aside): what happened goes to out, one line per step, for a person
    debugging a probe, the way Nagios's check_tcp is used:

        probe redis: 127.0.0.1:6379 (127.0.0.1:6379), timeout 500ms
        connect: ok in 0.104ms
        send: 6 bytes "PING\r\n"
        reply: 7 bytes in 0.180ms "+PONG\r\n"
        verdict: up (ok), rtt 0.180ms

    It blocks (poll with deadlines), so it runs on its own, never inside the
    agent's loop.
*/
#ifndef ZB_CHECK_H
#define ZB_CHECK_H

#include "zb_probe.h"

#include <stdbool.h>
#include <stdio.h>

//  Runs the check. Returns 0 when the verdict is up, 1 when down.
int zb_check_run(const zb_probe_config_t *config, FILE *out);

void zb_check_test(bool verbose);

#endif
