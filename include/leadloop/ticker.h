/* A background thread that calls a function at a fixed interval until it is stopped;
 * stopping wakes it at once (the idempotency janitor, the report compactor). */
#ifndef LEADLOOP_TICKER_H
#define LEADLOOP_TICKER_H
#include <pthread.h>
#include <stdbool.h>

struct ticker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running, stop;
    long interval_ms;
    void (*tick)(void *arg);
    void *arg;
};

/* Starts calling tick(arg) every interval_ms (the first call after one interval). */
bool ticker_start(struct ticker *t, long interval_ms, void (*tick)(void *arg), void *arg)
    __attribute__((warn_unused_result));
/* True once ticker_stop was called: a long tick (a janitor with a backlog) checks it
 * between its steps, so that stopping does not wait for the whole backlog. */
bool ticker_stopping(struct ticker *t);
/* Wakes the thread, waits for a tick in progress and joins it. Safe when not started. */
void ticker_stop(struct ticker *t);

#endif
