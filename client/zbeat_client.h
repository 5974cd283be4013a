/*  zbeat_client: heartbeats from a service to its zbeat agent (docs/push.md).

    Embeddable: libc and pthreads only, two files to copy into a project.

    A push service creates one client at start and destroys it at exit:

        zbeat_client_t *beat = zbeat_client_new ("127.0.0.1", 7401, "worker", 5000);
        ...                                     //  the service's own work
        zbeat_client_destroy (&beat, true);     //  planned stop: BYE

    A background thread connects, says HELLO, sends PING every interval and
    checks the PONG; it reconnects with capped exponential backoff (100 ms
    doubling up to the interval) when the agent is unreachable, closes the
    connection or stops answering. The service is never blocked by the
    agent: creating the client does not wait for a connection.

    A ttl job checks in once, synchronously:

        zbeat_client_checkin (NULL, 0, "nightly-backup", 5000, err, sizeof err);
*/
#ifndef ZBEAT_CLIENT_H
#define ZBEAT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZBEAT_CLIENT_HOST "127.0.0.1"
#define ZBEAT_CLIENT_PORT 7401

typedef struct _zbeat_client_t zbeat_client_t;

//  Receives one log line (no newline), only on changes, from the client's
//  thread: ZBEAT_CLIENT_INFO for "connected", ZBEAT_CLIENT_WARNING for
//  "cannot reach the agent" and "lost the agent".
#define ZBEAT_CLIENT_INFO 1
#define ZBEAT_CLIENT_WARNING 2
typedef void(zbeat_client_log_fn)(void *arg, int level, const char *message);

//  Starts heartbeating for service (1..64 of [A-Za-z0-9._-], starting with a
//  letter or digit). host NULL means ZBEAT_CLIENT_HOST, port 0 means
//  ZBEAT_CLIENT_PORT; interval_ms is the PING period (at most the agent's
//  push setting). Logs to stderr. Returns NULL for bad arguments or when the
//  thread cannot start.
zbeat_client_t *zbeat_client_new(const char *host, int port, const char *service, int interval_ms);

//  The same with a log function of your own; log NULL means silent.
zbeat_client_t *zbeat_client_new_with_log(const char *host, int port, const char *service,
                                          int interval_ms, zbeat_client_log_fn *log, void *log_arg);

//  Stops the thread and frees the client; *self_p becomes NULL, NULL is
//  harmless. planned true says BYE (the agent records a planned stop, no
//  outage); false just closes (the agent marks the service down at once).
//  Waits at most about a second for the agent's "OK bye".
void zbeat_client_destroy(zbeat_client_t **self_p, bool planned);

//  Whether the agent has accepted the HELLO and the connection is up.
bool zbeat_client_connected(zbeat_client_t *self);

//  Waits until the first connection attempt has ended or timeout_ms passed.
//  Returns true when connected.
bool zbeat_client_wait(zbeat_client_t *self, int timeout_ms);

//  One ttl check-in: connect, HELLO, CHECKIN, close. Returns 0 when the
//  agent answered "OK checkin" within timeout_ms, else -1 with a reason in
//  err ("connect: Connection refused", "agent said: ERR unknown-service").
int zbeat_client_checkin(const char *host, int port, const char *service, int timeout_ms, char *err,
                         size_t errsize);

//  Whether name is a valid service name.
bool zbeat_client_name_valid(const char *name);

#ifdef __cplusplus
}
#endif

#endif
