/*  zb_webhook: one HTTP(S) POST of a JSON body through libcurl, bounded in
    time. 2xx is delivered; anything else (no connection, a timeout, another
    status) is a failed attempt the caller retries.
    Blocking: call it from a delivery thread, never from the ingest loop.
*/
#ifndef ZB_WEBHOOK_H
#define ZB_WEBHOOK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    long http_status; // 0 when no response came
    char error[256];  // why it failed, "" when delivered
} zb_webhook_result_t;

//  libcurl's global setup: once, from the main thread, before any thread
//  posts; zb_webhook_cleanup after the last.
int zb_webhook_init(void);
void zb_webhook_cleanup(void);

//  Returns 0 when the receiver answered 2xx, -1 otherwise (result says
//  why). The transfer is abandoned when *stop becomes true.
int zb_webhook_post(const char *url, const char *body, int64_t timeout_ms, const atomic_bool *stop,
                    zb_webhook_result_t *result);

//  The same with extra headers: "Name: value" lines, each \n-ended (NULL:
//  none). A header also sent by default (Content-Type) is replaced.
int zb_webhook_post_with(const char *url, const char *body, const char *extra, int64_t timeout_ms,
                         const atomic_bool *stop, zb_webhook_result_t *result);

void zb_webhook_test(bool verbose);

#endif
