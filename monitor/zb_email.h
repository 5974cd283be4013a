/*  zb_email: the email channel (docs/alerts.md). A plain-text mail with the
    facts of an alert JSON, sent through libcurl's SMTP (smtp:// with
    STARTTLS when the server offers it, smtps://, AUTH from the URL's user
    and password). zb_email_send blocks: call it from a delivery thread.
*/
#ifndef ZB_EMAIL_H
#define ZB_EMAIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The whole message (headers, CRLF line ends) for one alert JSON, from
//  `from` to the comma-separated `to`: a heap string, or NULL when the
//  payload is not an alert JSON.
char *zb_email_message(const char *payload, const char *from, const char *to, int64_t now_ms);

//  Sends message over SMTP to every address of the comma-separated `to`.
//  Returns 0 when the server accepted it; else -1 with why in error.
int zb_email_send(const char *smtp, const char *from, const char *to, const char *message,
                  int64_t timeout_ms, const atomic_bool *stop, char *error, size_t size);

void zb_email_test(bool verbose);

#endif
