/*  zbeat-client-example: a worker that heartbeats its agent with zbeat_client.

        zbeat-client-example [HOST PORT] NAME SECONDS

    Works for SECONDS (or until SIGINT/SIGTERM), then stops with a BYE: a
    planned stop. SIGUSR1 makes it "crash": it exits without BYE, and the
    agent marks NAME down at once. The agent's config needs

        service
            NAME
                push = 2s
*/
#include "zbeat_client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t s_stop = 0; // 1: planned stop, 2: crash

static void s_on_signal(int signum)
{
    s_stop = signum == SIGUSR1 ? 2 : 1;
}

int main(int argc, char *argv[])
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: zbeat-client-example [HOST PORT] NAME SECONDS\n");
        return 2;
    }
    const char *host = argc == 5 ? argv[1] : NULL;
    int port = argc == 5 ? atoi(argv[2]) : 0;
    const char *name = argv[argc - 2];
    int seconds = atoi(argv[argc - 1]);

    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = s_on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGUSR1, &action, NULL);

    //  PING every second; the agent's push setting must be at least that.
    zbeat_client_t *beat = zbeat_client_new(host, port, name, 1000);
    if (!beat) {
        fprintf(stderr, "zbeat-client-example: bad arguments\n");
        return 2;
    }
    //  The service's own work; the heartbeat runs on its own thread.
    for (int tick = 0; tick < seconds * 10 && !s_stop; tick++) {
        struct timespec pause = {0, 100 * 1000000};
        nanosleep(&pause, NULL);
    }
    bool planned = s_stop != 2;
    printf("stopping, %s\n", planned ? "planned (BYE)" : "crash (no BYE)");
    zbeat_client_destroy(&beat, planned);
    return planned ? 0 : 1;
}
