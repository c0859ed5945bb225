/* A thread calling a function at an interval, waiting on a condition variable against
 * the monotonic clock so that ticker_stop() need not wait for the interval to end. */
#include "leadloop/ticker.h"

#include <errno.h>
#include <time.h>

#include "leadloop/util.h"

static void *ticker_main(void *arg)
{
    struct ticker *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec until;
        util_deadline(&until, t->interval_ms);
        while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &until) != ETIMEDOUT)
            ;
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->mu);
        t->tick(t->arg);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

bool ticker_start(struct ticker *t, long interval_ms, void (*tick)(void *arg), void *arg)
{
    pthread_condattr_t attr;
    t->interval_ms = interval_ms;
    t->tick = tick;
    t->arg = arg;
    t->stop = false;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        return false;
    }
    t->running = true;
    return true;
}

bool ticker_stopping(struct ticker *t)
{
    bool stop;
    pthread_mutex_lock(&t->mu);
    stop = t->stop;
    pthread_mutex_unlock(&t->mu);
    return stop;
}

void ticker_stop(struct ticker *t)
{
    if (!t->running)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    t->running = false;
}
