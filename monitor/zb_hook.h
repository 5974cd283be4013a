/*  zb_hook: runs an exec channel's command once, bounded in time.

    The command runs through /bin/sh -c in a process group of its own, with
    the alert on stdin, the caller's environment, no other inherited file
    descriptors, default signal dispositions and an empty signal mask. At the
    timeout (or when *stop becomes true) the whole group is killed, so a hook
    that hangs, or leaves children behind that do, cannot pile up.
    Blocking: call it from a delivery thread, never from the ingest loop.
*/
#ifndef ZB_HOOK_H
#define ZB_HOOK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int exit_status;  // 0..255 when it exited, -1 otherwise
    int signal;       // the signal that ended it, 0 when it exited
    bool timed_out;   // killed at the timeout
    bool interrupted; // killed because *stop became true
    char output[256]; // the start of what it wrote (stdout and stderr), printable
} zb_hook_result_t;

//  Returns 0 when the command ran (see result for how it ended), or -1 when
//  it could not be started (the reason in result->output).
int zb_hook_run(const char *command, const char *input, char *const *env, int64_t timeout_ms,
                const atomic_bool *stop, zb_hook_result_t *result);

void zb_hook_test(bool verbose);

#endif
