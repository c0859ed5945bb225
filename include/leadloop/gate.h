/* The gate: the HTTP layer's front door and its clock on clients. It owns the listening
 * socket and holds each new connection in one epoll thread, for no thread and no
 * libmicrohttpd memory, until the head of its first request has arrived whole and reads
 * as HTTP/1.x within our limits; only then is the socket handed to libmicrohttpd. A head
 * that does not arrive within LEADLOOP_HEADER_TIMEOUT_S, or breaks a limit, is answered
 * with problem+json and closed. When the gate is full, the connection waiting longest
 * makes room.
 *
 * The same thread watches the connections libmicrohttpd holds (gate_conn): a later
 * request's head must arrive in time too, and a body at LEADLOOP_MIN_BODY_RATE bytes/s
 * on average; a connection that breaks this is shut down with a logged reason. */
#ifndef LEADLOOP_GATE_H
#define LEADLOOP_GATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadloop/config.h"
#include "leadloop/problem.h"

struct MHD_Daemon;
struct sockaddr;

/* Limits of a request head, checked by the gate for a connection's first request. */
#define GATE_HEAD_MAX    16384 /* request line and headers, bytes */
#define GATE_TARGET_MAX  8192  /* request target, bytes */
#define GATE_PARAMS_MAX  100   /* query parameters */
#define GATE_HEADERS_MAX 100   /* header fields */

/* What gate_check_head found in the first len bytes of a connection. */
struct gate_head {
    enum ll_err err;    /* LL_OK: a whole head within limits; else the answer */
    const char *detail; /* static text for err */
    size_t head_len;    /* LL_OK: bytes up to and including the empty line */
};

/* Checks a request head. Returns false when more bytes are needed to decide (never when
 * len >= GATE_HEAD_MAX); true with *out filled otherwise. Pure; unit-tested. */
bool gate_check_head(const char *buf, size_t len, struct gate_head *out);

/* The connection limit to give libmicrohttpd: LEADLOOP_MAX_CONNECTIONS and slack for the
 * connections the gate has made to close and libmicrohttpd has not closed yet. */
long gate_mhd_limit(const struct config *cfg);
/* Binds the listening socket of cfg->listen (so that a taken address fails the start
 * before anything else runs). */
bool gate_listen(const struct config *cfg) __attribute__((warn_unused_result));
/* Starts the gate thread, which hands checked connections to d. */
bool gate_start(struct MHD_Daemon *d) __attribute__((warn_unused_result));
/* The same, handing them to handoff instead, which owns fd from then on (it closes it when
 * it fails) and answers false when it took it but could not pass it on at once. A handoff
 * that later fails to pass a connection on (the event loops add them on their own threads)
 * calls gate_handoff_failed. */
bool gate_start_with(bool (*handoff)(int fd, const struct sockaddr *addr, unsigned alen))
    __attribute__((warn_unused_result));
void gate_handoff_failed(void);
/* Stops accepting: closes the listening socket and the connections still in the gate,
 * and ends the thread. Connections already handed over are libmicrohttpd's. */
void gate_stop(void);

/* --- the watch over libmicrohttpd's connections --- */

enum gate_phase {
    GATE_IDLE, /* between requests (since accept or the last answer) */
    GATE_HEAD, /* the request line has arrived, the headers have not */
    GATE_BODY, /* reading the body, at LEADLOOP_MIN_BODY_RATE at least */
    GATE_BUSY, /* the daemon is working or answering: no client clock */
};

struct gate_conn;

/* A connection libmicrohttpd has taken (its notify-connection callback). New; NULL when
 * out of memory (it is then not watched). */
struct gate_conn *gate_conn_open(int fd);
/* Before libmicrohttpd closes the socket; gc may be NULL. Frees gc. */
void gate_conn_close(struct gate_conn *gc);
/* Moves gc (may be NULL) to a phase; its clock restarts. */
void gate_conn_phase(struct gate_conn *gc, enum gate_phase phase);
/* Counts body bytes received. */
void gate_conn_body(struct gate_conn *gc, size_t n);

/* True when the client has closed its side of gc's connection (or it broke): nobody
 * waits for the answer. */
bool gate_conn_gone(struct gate_conn *gc);
/* Marks gc as the connection of the calling thread (libmicrohttpd runs one thread per
 * connection), for gate_intercept. */
void gate_conn_bind_thread(struct gate_conn *gc);
/* Called with each libmicrohttpd log message, on the thread that logs it. When the
 * message says libmicrohttpd is about to answer its own (HTML) error page on the calling
 * thread's connection, writes our problem+json answer for that status to the socket
 * instead and shuts its sending side, so libmicrohttpd's page never leaves. Returns true
 * when it did. */
bool gate_intercept(const char *msg);

/* Counters for /metrics. */
struct gate_stats {
    long pending;         /* connections in the gate now */
    long watched;         /* connections held by libmicrohttpd now */
    uint64_t handed;      /* connections handed to libmicrohttpd */
    uint64_t refused;     /* heads answered 4xx/5xx by the gate */
    uint64_t timed_out;   /* heads that did not arrive in time (in the gate or later) */
    uint64_t evicted;     /* made room for a newer connection */
    uint64_t too_slow;    /* bodies below the minimum rate */
    uint64_t intercepted; /* libmicrohttpd error pages replaced by problem+json */
};
void gate_stats(struct gate_stats *out);

#endif
