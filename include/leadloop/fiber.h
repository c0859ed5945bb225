/* Fibers on a few event-loop threads: the request path's way of never making a thread wait
 * on PostgreSQL while it could serve others (http.c's event mode).
 *
 * A loop thread (sched_loop) owns an epoll set. A request's work runs on a fiber of that
 * thread (fiber_go): plain sequential code ("validate, run these statements, answer") that,
 * where it would block, parks instead: on a socket (fiber_wait_fd: db.c's statements), a
 * deadline (fiber_sleep_until), a hand-over from another thread (fiber_park/fiber_unpark:
 * db.c's pool), or a blocking call run on a helper thread (fiber_offload: password hashing,
 * waits on condition variables). The loop resumes parked fibers when their event comes, so
 * one thread carries many requests, and one wake-up serves every event that is ready.
 *
 * A fiber runs only on the thread that started it. Code that is not on a fiber (background
 * threads, the command line) calls the same functions of db.c, which then block as before:
 * fiber_in() tells them apart. */
#ifndef LEADLOOP_FIBER_H
#define LEADLOOP_FIBER_H
#include <stdbool.h>
#include <stdint.h>

struct sched;
struct fiber;

/* What a loop does besides its fibers: watch fd for reading (libmicrohttpd's epoll set)
 * and call run when it is readable, when timeout_ms (its next deadline, -1: none) has
 * passed, or after sched_wake; inbox is called first after sched_wake. */
struct sched_hooks {
    int fd;
    void (*run)(void *arg);
    long (*timeout_ms)(void *arg);
    void (*inbox)(void *arg);
    void *arg;
};

/* A scheduler for one loop thread; NULL when out of resources. */
struct sched *sched_new(void);
/* Runs the loop on the calling thread until sched_stop; fibers still parked then are left
 * as they are (the caller has drained them). */
void sched_loop(struct sched *s, const struct sched_hooks *h);
/* Any thread: the loop returns after its current round. */
void sched_stop(struct sched *s);
/* Any thread: the loop calls inbox and run soon. */
void sched_wake(struct sched *s);
/* After sched_loop returned: frees the fibers and their stacks. */
void sched_free(struct sched *s);
/* Fibers of s that have started and not finished. */
long sched_fibers(const struct sched *s);

/* On the loop thread of s (its hooks): runs fn(arg) on a new fiber until it finishes or
 * parks. True when it finished; otherwise done(arg) is called on the loop thread once it
 * does. False with *failed when no fiber could be made (out of memory). */
bool fiber_go(void (*fn)(void *arg), void *arg, void (*done)(void *arg), bool *failed);

/* True on a fiber. */
bool fiber_in(void);
/* The running fiber, or NULL. */
struct fiber *fiber_self(void);

/* Parks the fiber until fd is ready for events (POLLIN, POLLOUT), the monotonic deadline
 * (ns, 0: none) passes, or fiber_interrupt_all: 1 ready, 0 deadline, -1 interrupted.
 * Spurious returns (2) can happen; callers wait again. */
int fiber_wait_fd(int fd, short events, uint64_t deadline_ns);
/* Parks the fiber until the monotonic deadline (ns). */
void fiber_sleep_until(uint64_t deadline_ns);
/* Parks until fiber_unpark (any thread) or the deadline (0: none); may return early, so
 * callers check their condition in a loop. False when the deadline passed. */
bool fiber_park(uint64_t deadline_ns);
/* Any thread. A fiber that is not parked now returns at once from its next fiber_park.
 * The fiber object outlives any request, so a late call is harmless. */
void fiber_unpark(struct fiber *f);
/* Runs fn(arg) on a helper thread while the fiber is parked (for calls that block the
 * thread: CPU-bound hashing, condition variables); off a fiber, runs it in place. */
void fiber_offload(void (*fn)(void *arg), void *arg);
/* Shutdown: every fiber waiting on a socket or a deadline returns -1 at once, and later
 * waits too. Any thread. */
void fiber_interrupt_all(void);
/* Stops the helper threads of fiber_offload (after the loops have stopped). */
void fiber_offload_stop(void);
#endif
