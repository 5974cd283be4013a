/*  zb_hook: runs an exec channel's command once. See zb_hook.h.

    posix_spawn rather than fork: the monitor is multi-threaded, and between
    fork and exec only async-signal-safe calls are allowed; posix_spawn does
    the child's setup (process group, signal mask, descriptors) for us.
*/
#include "zb_hook.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ZB_HOOK_TICK_MS 20 // how often a quiet child is checked for exit and stop

//  Keeps the start of the child's output for the delivery record, on one
//  line (line breaks and tabs as spaces) and terminal-safe.
static void s_keep(zb_hook_result_t *result, const char *data, ssize_t len)
{
    char line[4096];
    size_t n = (size_t)len < sizeof(line) ? (size_t)len : sizeof(line);
    for (size_t i = 0; i < n; i++)
        line[i] = data[i] == '\n' || data[i] == '\t' ? ' ' : data[i];
    size_t used = strlen(result->output);
    zb_text_printable(line, n, result->output + used, sizeof(result->output) - used, 0);
}

//  Reads what is there; returns false at end of file (or error).
static bool s_read(int fd, zb_hook_result_t *result)
{
    char buf[4096];
    while (true) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            s_keep(result, buf, n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

static pid_t s_spawn(const char *command, char *const *env, int in_fd, int out_fd,
                     zb_hook_result_t *result)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
    //  Database, sockets, other hooks' pipes: none of the child's business.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    int dflt[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
    for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++)
        sigaddset(&defaults, dflt[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, env);
    if (rc != 0) {
        snprintf(result->output, sizeof(result->output), "cannot run /bin/sh: %s", strerror(rc));
        pid = -1;
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
}

int zb_hook_run(const char *command, const char *input, char *const *env, int64_t timeout_ms,
                const atomic_bool *stop, zb_hook_result_t *result)
{
    assert(command && input && env && result);
    memset(result, 0, sizeof(*result));
    result->exit_status = -1;
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    int rc = -1;
    //  A hook that exits without reading its input must not kill us with
    //  SIGPIPE: blocked here, any pending one is consumed before returning.
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        snprintf(result->output, sizeof(result->output), "pipe: %s", strerror(errno));
        goto done;
    }
    pid_t pid = s_spawn(command, env, in[0], out[1], result);
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    if (pid < 0)
        goto done;
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);

    size_t input_len = strlen(input), written = 0;
    if (input_len == 0) {
        close(in[1]);
        in[1] = -1;
    }
    int64_t deadline = zb_time_mono_ms() + timeout_ms;
    int status = 0;
    bool exited = false;
    while (!exited) {
        pid_t waited = waitpid(pid, &status, WNOHANG);
        if (waited == pid) {
            exited = true;
            break;
        }
        int64_t now = zb_time_mono_ms();
        bool stopping = stop && atomic_load(stop);
        if (now >= deadline || stopping) {
            result->timed_out = !stopping;
            result->interrupted = stopping;
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            exited = true;
            break;
        }
        struct pollfd fds[2];
        nfds_t nfds = 0;
        if (out[0] >= 0)
            fds[nfds++] = (struct pollfd){.fd = out[0], .events = POLLIN};
        if (in[1] >= 0)
            fds[nfds++] = (struct pollfd){.fd = in[1], .events = POLLOUT};
        int64_t wait = deadline - now < ZB_HOOK_TICK_MS ? deadline - now : ZB_HOOK_TICK_MS;
        if (nfds == 0) {
            struct timespec ts = {0, (long)wait * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (poll(fds, nfds, (int)wait) <= 0)
            continue;
        for (nfds_t i = 0; i < nfds; i++) {
            if (fds[i].revents == 0)
                continue;
            if (fds[i].fd == out[0] && !s_read(out[0], result)) {
                close(out[0]);
                out[0] = -1;
            } else if (fds[i].fd == in[1]) {
                ssize_t n = write(in[1], input + written, input_len - written);
                if (n > 0)
                    written += (size_t)n;
                //  Done, or the hook does not read its input (EPIPE): fine.
                if (written == input_len || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                    close(in[1]);
                    in[1] = -1;
                }
            }
        }
    }
    //  What the hook wrote before exiting; children it left behind may hold
    //  the pipe open, so no waiting for end of file.
    if (out[0] >= 0)
        s_read(out[0], result);
    size_t len = strlen(result->output);
    while (len > 0 && result->output[len - 1] == ' ')
        result->output[--len] = '\0';
    if (WIFEXITED(status))
        result->exit_status = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        result->signal = WTERMSIG(status);
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
        ;
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Self-test

void zb_hook_test(bool verbose)
{
    (void)verbose;
    char *env[] = {"PATH=/usr/bin:/bin", "ZBEAT_HOST=web-1", NULL};
    zb_hook_result_t result;

    //  Input on stdin, environment, exit status, output kept.
    assert(zb_hook_run("read line; echo \"got $line for $ZBEAT_HOST\"; exit 3", "hello\n", env,
                       5000, NULL, &result) == 0);
    assert(result.exit_status == 3 && !result.timed_out);
    assert(strcmp(result.output, "got hello for web-1") == 0);

    //  No inherited descriptors beyond 0, 1, 2.
    int fd = open("/dev/null", O_RDONLY); // not CLOEXEC on purpose
    assert(fd >= 0);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "test -e /proc/self/fd/%d && exit 9; exit 0", fd);
    assert(zb_hook_run(cmd, "", env, 5000, NULL, &result) == 0);
    assert(result.exit_status == 0);
    close(fd);

    //  A hook that ignores its input (SIGPIPE must not hit us).
    static char big[1 << 18];
    memset(big, 'x', sizeof(big) - 1);
    assert(zb_hook_run("exit 0", big, env, 5000, NULL, &result) == 0);
    assert(result.exit_status == 0);

    //  A hanging hook and its children are killed at the timeout.
    int64_t start = zb_time_mono_ms();
    assert(zb_hook_run("sleep 30 & sleep 30", "", env, 300, NULL, &result) == 0);
    int64_t took = zb_time_mono_ms() - start;
    assert(result.timed_out && result.signal == SIGKILL && result.exit_status == -1);
    assert(took >= 300 && took < 2000);

    //  The stop flag ends it too.
    atomic_bool stop = true;
    assert(zb_hook_run("sleep 30", "", env, 10000, &stop, &result) == 0);
    assert(result.interrupted && !result.timed_out);

    //  A command the shell cannot find: it ran (sh did), status 127.
    assert(zb_hook_run("/nonexistent/hook", "", env, 5000, NULL, &result) == 0);
    assert(result.exit_status == 127);
}
