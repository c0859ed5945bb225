/* The LISTEN thread: one connection for every channel, polled with a 250 ms timeout so
 * that stopping never waits long. */
#include "leadloop/listen.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leadloop/db.h"
#include "leadloop/log.h"

#define MAX_SUBS 8

static struct {
    struct listen_sub subs[MAX_SUBS];
    int nsubs;
    char *conninfo;
    pthread_t thread;
    atomic_bool stop;
    bool running;
} ls;

bool listen_add(const struct listen_sub *sub)
{
    if (ls.running || ls.nsubs == MAX_SUBS)
        return false;
    ls.subs[ls.nsubs++] = *sub;
    return true;
}

static void tell_up(bool up)
{
    for (int i = 0; i < ls.nsubs; i++)
        if (ls.subs[i].up)
            ls.subs[i].up(up, ls.subs[i].arg);
}

static void lost(PGconn **pg)
{
    log_warn("listener: notification connection lost; reconnecting");
    tell_up(false);
    PQfinish(*pg);
    *pg = NULL;
}

/* Opens the connection and LISTENs on every channel; NULL when that failed. */
static PGconn *open_listening(void)
{
    char err[256], sql[128];
    PGconn *pg = db_connect_once(ls.conninfo, err, sizeof err);
    for (int i = 0; pg && i < ls.nsubs; i++) {
        /* channel names are the modules' own constants, never request data */
        snprintf(sql, sizeof sql, "LISTEN %s", ls.subs[i].channel);
        PGresult *res = PQexec(pg, sql);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            PQfinish(pg);
            pg = NULL;
        }
    }
    return pg;
}

static void deliver(PGconn *pg)
{
    PGnotify *note;
    while ((note = PQnotifies(pg)) != NULL) {
        for (int i = 0; i < ls.nsubs; i++)
            if (!strcmp(note->relname, ls.subs[i].channel) && ls.subs[i].note)
                ls.subs[i].note(note->extra, ls.subs[i].arg);
        PQfreemem(note);
    }
}

static void *run(void *arg)
{
    PGconn *pg = NULL;
    (void)arg;
    while (!atomic_load(&ls.stop)) {
        if (!pg) {
            if (!(pg = open_listening())) {
                struct timespec pause = {1, 0};
                nanosleep(&pause, NULL); /* retry once a second; stop waits at most that */
                continue;
            }
            tell_up(true);
        }
        struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
        int n = poll(&pfd, 1, 250);
        if ((n < 0 && errno != EINTR) ||
            (n > 0 && (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK))) {
            lost(&pg);
            continue;
        }
        deliver(pg);
    }
    if (pg)
        tell_up(false);
    PQfinish(pg);
    return NULL;
}

bool listen_start(const char *conninfo)
{
    if (ls.nsubs == 0 || ls.running)
        return true;
    if (!(ls.conninfo = strdup(conninfo ? conninfo : "")))
        return false;
    atomic_store(&ls.stop, false);
    if (pthread_create(&ls.thread, NULL, run, NULL) != 0) {
        free(ls.conninfo);
        ls.conninfo = NULL;
        return false;
    }
    ls.running = true;
    return true;
}

void listen_stop(void)
{
    if (ls.running) {
        atomic_store(&ls.stop, true);
        pthread_join(ls.thread, NULL);
        ls.running = false;
    }
    free(ls.conninfo);
    ls.conninfo = NULL;
    ls.nsubs = 0;
}
