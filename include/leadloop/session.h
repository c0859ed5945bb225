/* People signed in to the web app: sign-in with email and password, the session cookie
 * that authenticates their requests, its CSRF token, sign-out, password changes and the
 * list of a person's sessions. The routes are /v1/session and /v1/sessions (openapi.yaml);
 * the auth stage (reqpath.c) calls session_resolve for a request that carries the cookie
 * and no Authorization header. */
#ifndef LEADLOOP_SESSION_H
#define LEADLOOP_SESSION_H
#include <stdbool.h>
#include <stddef.h>

#include "leadloop/auth_ctx.h"
#include "leadloop/problem.h"

struct db_conn;
struct request;

#define SESSION_COOKIE "ll_session"
/* "lls_" (or "lli_" for an invitation), the workspace's id as 32 hex digits, "_", and 32
 * random bytes in base64url: the workspace names the shard a lookup goes to. */
#define SESSION_TOKEN_LEN 80
#define SESSION_CSRF_LEN  43

/* A new token of the kind prefix ("lls_" or "lli_") for workspace_id into token, and the
 * hex SHA-256 the database keeps. False when the kernel gives no random bytes. */
bool session_token_new(const char *prefix, const char *workspace_id,
                       char token[SESSION_TOKEN_LEN + 1], char hash_hex[65])
    __attribute__((warn_unused_result));
/* Reads a token of the kind prefix (n bytes at s): its workspace id and hash. False when it
 * is not one. */
bool session_token_parse(const char *prefix, const char *s, size_t n, char workspace_id[37],
                         char hash_hex[65]) __attribute__((warn_unused_result));
/* The CSRF token of a session token: derived, never stored. */
void session_csrf(const char *token, char out[SESSION_CSRF_LEN + 1]);
/* The session cookie's value in a Cookie header (NULL when absent), borrowed, its length in
 * *n. */
const char *session_cookie(const char *cookie_header, size_t *n);

/* The session of a cookie token to out (role from its user, as it is now). LL_E_UNAUTHORIZED
 * when the token names no live session of an active user. */
enum ll_err session_resolve(struct db_conn *db, const char *token, size_t n, long idle_h,
                            struct auth_ctx *out) __attribute__((warn_unused_result));
/* A Set-Cookie value that ends the session cookie in the browser. */
void session_cookie_clear(struct request *r);

/* Signs in: a session and its cookie for an invitee who has just set a password
 * (invitations.c), answered as POST /v1/session answers. */
void session_start(struct request *r, const char *workspace_id, const char *user_id, int status);

void session_create(struct request *r);   /* POST /v1/session (public) */
void session_get(struct request *r);      /* GET /v1/session */
void session_delete(struct request *r);   /* DELETE /v1/session */
void session_password(struct request *r); /* PUT /v1/session/password */
void sessions_list(struct request *r);    /* GET /v1/sessions */
void sessions_revoke(struct request *r);  /* DELETE /v1/sessions/{id} */

/* Every interval_s, on a connection of its own: deletes sessions ended a week ago and
 * failure counts whose window is over. */
bool session_janitor_start(const char *conninfo, long interval_s)
    __attribute__((warn_unused_result));
void session_janitor_stop(void);

#endif
