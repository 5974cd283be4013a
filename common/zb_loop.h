/*  zb_loop: the agent's event loop: epoll for file descriptors, a binary
    min-heap of caller-owned timers, and signals through a signalfd.

    Why not zloop: zloop rebuilds and scans its whole poll set on every change
    of interest (POLLOUT while connecting, POLLIN after), which is O(n) per
    event with thousands of probes. Here every operation is O(log n) or O(1).

    One pass: wait until the nearest timer (or an fd event), dispatch all
    ready fds first, then every timer whose deadline has passed. I/O before
    timers matters: after a stall (SIGSTOP, a slow disk) a reply that is
    already in the socket buffer must win over the timeout that expired
    meanwhile.
*/
#ifndef ZB_LOOP_H
#define ZB_LOOP_H

#include "zb_heap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_LOOP_READ 0x01
#define ZB_LOOP_WRITE 0x02
#define ZB_LOOP_ERROR 0x04 // EPOLLERR / EPOLLHUP, reported with READ set

typedef struct _zb_loop_t zb_loop_t;
typedef struct _zb_timer_t zb_timer_t;

typedef void(zb_loop_fd_fn)(zb_loop_t *loop, int fd, int events, void *arg);
typedef void(zb_loop_timer_fn)(zb_loop_t *loop, zb_timer_t *timer, void *arg);
typedef void(zb_loop_signal_fn)(zb_loop_t *loop, int signum, void *arg);

//  Embedded in the owner's struct: arming a timer never allocates.
struct _zb_timer_t {
    zb_heap_node_t
        node; // in the loop's heap: key the deadline (monotonic ms), index 0 when not armed
    zb_loop_timer_fn *fn;
    void *arg;
};

zb_loop_t *zb_loop_new(void);
void zb_loop_destroy(zb_loop_t **self_p);

//  Watches fd for ZB_LOOP_READ and/or ZB_LOOP_WRITE. Returns 0 or -1.
int zb_loop_add_fd(zb_loop_t *self, int fd, int events, zb_loop_fd_fn *fn, void *arg);
int zb_loop_mod_fd(zb_loop_t *self, int fd, int events);
//  Stops watching fd; call before close (fd).
void zb_loop_del_fd(zb_loop_t *self, int fd);

void zb_timer_init(zb_timer_t *timer, zb_loop_timer_fn *fn, void *arg);
//  Arms (or re-arms) the timer for a monotonic deadline in ms.
void zb_loop_timer_set(zb_loop_t *self, zb_timer_t *timer, int64_t deadline);
void zb_loop_timer_cancel(zb_loop_t *self, zb_timer_t *timer);
bool zb_timer_armed(const zb_timer_t *timer);

//  Delivers signum to fn inside the loop (blocks it for the process and
//  reads it from a signalfd). Returns 0 or -1.
int zb_loop_add_signal(zb_loop_t *self, int signum, zb_loop_signal_fn *fn, void *arg);

//  Monotonic ms, read once per pass: cheap, and the same for every handler
//  of one pass.
int64_t zb_loop_now(zb_loop_t *self);

//  Runs until zb_loop_stop. Returns 0, or -1 when epoll fails.
int zb_loop_run(zb_loop_t *self);
void zb_loop_stop(zb_loop_t *self);

void zb_loop_test(bool verbose);

#endif
