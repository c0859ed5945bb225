/* People signing in (server/session.c, server/invitations.c): an admin's invitation, the
 * invitee's password and first session; the cookie's flags; no session fixation; CSRF on
 * cookie writes; writes authored by the person; sign-out, revocation, deactivation and a
 * new password ending sessions; failed sign-ins slowed down per account and per address;
 * used, expired and revoked links refused; and no password or hash in any answer or log. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites.h"
#include "support.h"

#define PASSWORD "correct horse battery staple"

static char ws_admin[64]; /* an admin key of this suite's workspace */

static void setup(void)
{
    ck_assert(workspace_key("sessions-suite", "admin", ws_admin));
}

/* An email no other test or run uses. */
static const char *fresh_email(const char *tag)
{
    static char buf[8][96];
    static int n;
    static unsigned long seq;
    char *out = buf[n++ % 8];
    snprintf(out, sizeof buf[0], "%s-%d-%lu@people.example", tag, (int)getpid(), seq++);
    return out;
}

struct person {
    char email[96], user_id[64], token[128], cookie[160], csrf[64];
};

/* A request with the person's cookie (when p is given), CSRF token (when csrf), JSON body. */
static struct resp *as(const struct person *p, const char *method, const char *path,
                       const char *body, const char *csrf)
{
    char cookie[200], token[100];
    const char *h[5] = {NULL};
    int n = 0;
    if (p && p->cookie[0]) {
        snprintf(cookie, sizeof cookie, "Cookie: %s", p->cookie);
        h[n++] = cookie;
    }
    if (csrf) {
        snprintf(token, sizeof token, "X-CSRF-Token: %s", csrf);
        h[n++] = token;
    }
    if (body)
        h[n++] = "Content-Type: application/json";
    return req(&main_daemon, method, path, NULL, h, body, body ? strlen(body) : 0);
}

/* The "ll_session=..." pair of r's Set-Cookie into out; the whole header into whole. */
static void take_cookie(const struct resp *r, char out[160], char whole[512])
{
    char *sc = resp_header(r, "Set-Cookie");
    ck_assert_msg(sc != NULL, "no Set-Cookie in %ld %s", r->status, r->body);
    snprintf(whole, 512, "%s", sc);
    char *semi = strchr(sc, ';');
    if (semi)
        *semi = '\0';
    snprintf(out, 160, "%s", sc);
    free(sc);
}

/* Invites a person with role; the invitation's token into p. */
static void invite(struct person *p, const char *role)
{
    char body[300];
    snprintf(p->email, sizeof p->email, "%s", fresh_email(role));
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"name\":\"Pat %s\",\"role\":\"%s\"}", p->email,
             role, role);
    struct resp *r = post("/v1/invitations", ws_admin, body);
    ck_assert_msg(r->status == 201, "invite: %ld %s", r->status, r->body);
    snprintf(p->token, sizeof p->token, "%s", jstr(r, "token"));
    snprintf(p->user_id, sizeof p->user_id, "%s", jstr(r, "user_id"));
    ck_assert_msg(!strncmp(p->token, "lli_", 4), "token %s", p->token);
    char url[200];
    snprintf(url, sizeof url, "/app/invitation#token=%s", p->token);
    ck_assert_str_eq(jstr(r, "url"), url);
    resp_free(r);
}

/* Invites and accepts: p is signed in, with its cookie and CSRF token. */
static void join(struct person *p, const char *role)
{
    char body[300], whole[512];
    invite(p, role);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", p->token, PASSWORD);
    struct resp *r = as(NULL, "POST", "/v1/invitations/accept", body, NULL);
    ck_assert_msg(r->status == 200, "accept: %ld %s", r->status, r->body);
    take_cookie(r, p->cookie, whole);
    snprintf(p->csrf, sizeof p->csrf, "%s", jstr(r, "csrf_token"));
    ck_assert_str_eq(jstr(r, "role"), role);
    resp_free(r);
}

static struct resp *sign_in(const char *email, const char *password, const char *cookie)
{
    char body[400], h_cookie[200];
    const char *h[3] = {"Content-Type: application/json", NULL, NULL};
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    if (cookie) {
        snprintf(h_cookie, sizeof h_cookie, "Cookie: %s", cookie);
        h[1] = h_cookie;
    }
    return req(&main_daemon, "POST", "/v1/session", NULL, h, body, strlen(body));
}

/* Asserts that r is this problem, and frees it. */
static void problem_is(struct resp *r, long status, const char *slug)
{
    assert_problem(r, status, slug);
    resp_free(r);
}

static long status_of(struct resp *r)
{
    long s = r->status;
    resp_free(r);
    return s;
}

/* A new lead of the suite's workspace handed to sales (mql); its id into id. */
static void new_lead(char id[64])
{
    char body[200];
    char path[128];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", fresh_email("lead"));
    struct resp *r = post("/v1/leads", ws_admin, body);
    ck_assert_msg(r->status == 201, "lead: %ld %s", r->status, r->body);
    snprintf(id, 64, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", id);
    ck_assert_int_eq(status_of(post(path, ws_admin, "{\"to\":\"mql\"}")), 201);
}

static void clear_failures(void)
{
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    pg_ok(pg, "DELETE FROM signin_failures");
    PQfinish(pg);
}

/* ------------------------------------------------------------------ tests */

START_TEST(an_invitee_sets_a_password_and_is_signed_in_with_a_strict_cookie)
{
    struct person p = {0};
    char body[300], whole[512];
    invite(&p, "sales");
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", p.token, PASSWORD);
    struct resp *r = as(NULL, "POST", "/v1/invitations/accept", body, NULL);
    ck_assert_msg(r->status == 200, "accept: %ld %s", r->status, r->body);
    take_cookie(r, p.cookie, whole);
    ck_assert_msg(strstr(whole, "HttpOnly") && strstr(whole, "SameSite=Lax") &&
                      strstr(whole, "Path=/") && strstr(whole, "Max-Age="),
                  "cookie flags: %s", whole);
    ck_assert_msg(!strstr(whole, "Secure"), "plain HTTP, no proxy: no Secure flag: %s", whole);
    ck_assert_str_eq(jstr(r, "kind"), "session");
    ck_assert_int_eq((int)strlen(jstr(r, "csrf_token")), 43);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "user"), "email")),
                     p.email);
    snprintf(p.csrf, sizeof p.csrf, "%s", jstr(r, "csrf_token"));
    resp_free(r);

    r = as(&p, "GET", "/v1/session", NULL, NULL);
    ck_assert_msg(r->status == 200, "GET /v1/session: %ld %s", r->status, r->body);
    ck_assert_str_eq(jstr(r, "role"), "sales");
    ck_assert_str_eq(jstr(r, "csrf_token"), p.csrf);
    resp_free(r);

    /* the user shows it has signed in once */
    char path[128];
    snprintf(path, sizeof path, "/v1/users/%s", p.user_id);
    r = get(path, ws_admin);
    ck_assert_str_eq(jstr(r, "role"), "sales");
    ck_assert_msg(json_is_string(json_object_get(r->json, "activated_at")), "%s", r->body);
    resp_free(r);

    /* behind a TLS proxy the cookie is Secure */
    const char *h[3] = {"Content-Type: application/json", "X-Forwarded-Proto: https", NULL};
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", p.email, PASSWORD);
    r = req(&main_daemon, "POST", "/v1/session", NULL, h, body, strlen(body));
    ck_assert_int_eq(r->status, 200);
    take_cookie(r, p.cookie, whole);
    ck_assert_msg(strstr(whole, "; Secure"), "behind https: Secure: %s", whole);
    resp_free(r);
}
END_TEST

START_TEST(a_sign_in_never_keeps_the_session_the_browser_had)
{
    struct person p = {0};
    char old[160], fresh[160], whole[512];
    join(&p, "marketing");
    snprintf(old, sizeof old, "%s", p.cookie);
    /* an attacker's planted cookie, or the person's own earlier one: replaced, and ended */
    struct resp *r = sign_in(p.email, PASSWORD, old);
    ck_assert_int_eq(r->status, 200);
    take_cookie(r, fresh, whole);
    resp_free(r);
    ck_assert_str_ne(fresh, old);
    struct person was = p;
    snprintf(was.cookie, sizeof was.cookie, "%s", old);
    r = as(&was, "GET", "/v1/session", NULL, NULL);
    assert_problem(r, 401, "unauthorized");
    char *clear = resp_header(r, "Set-Cookie");
    ck_assert_msg(clear && strstr(clear, "Max-Age=0"), "an ended session's cookie is cleared");
    free(clear);
    resp_free(r);
    snprintf(p.cookie, sizeof p.cookie, "%s", fresh);
    ck_assert_int_eq(status_of(as(&p, "GET", "/v1/session", NULL, NULL)), 200);
    /* a made-up token is no session either */
    snprintf(was.cookie, sizeof was.cookie,
             "ll_session=lls_00000000000000000000000000000000_"
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    ck_assert_int_eq(status_of(as(&was, "GET", "/v1/session", NULL, NULL)), 401);
}
END_TEST

START_TEST(cookie_writes_need_the_csrf_token_and_are_authored_by_the_person)
{
    struct person p = {0};
    char lead[64], path[128];
    join(&p, "sales");
    new_lead(lead);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead);
    const char *accept = "{\"kind\":\"accepted\",\"rating\":4}";
    problem_is(as(&p, "POST", path, accept, NULL), 403, "csrf");
    problem_is(as(&p, "POST", path, accept, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 403,
               "csrf");
    struct resp *r = as(&p, "POST", path, accept, p.csrf);
    ck_assert_msg(r->status == 201, "feedback with the token: %ld %s", r->status, r->body);
    json_t *author = json_object_get(r->json, "author");
    ck_assert_str_eq(json_string_value(json_object_get(author, "user_id")), p.user_id);
    ck_assert_msg(json_is_null(json_object_get(author, "api_key_id")), "no key: %s", r->body);
    resp_free(r);
    /* reads need no token */
    ck_assert_int_eq(status_of(as(&p, "GET", path, NULL, NULL)), 200);
    /* the audit log names the person */
    char q[200];
    snprintf(q, sizeof q, "/v1/audit?entity=feedback&lead_id=%s", lead);
    r = get(q, ws_admin);
    ck_assert_msg(r->status == 200 && strstr(r->body, "\"type\":\"user\"") &&
                      strstr(r->body, p.user_id),
                  "audit: %s", r->body);
    resp_free(r);
    /* an API key needs no CSRF token, as before */
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead);
    ck_assert_int_eq(status_of(post(path, ws_admin, "{\"kind\":\"contacted\"}")), 201);
}
END_TEST

START_TEST(the_persons_role_decides_what_the_session_may_do)
{
    struct person ro = {0};
    char lead[64], path[128];
    join(&ro, "readonly");
    new_lead(lead);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead);
    problem_is(as(&ro, "POST", path, "{\"kind\":\"accepted\"}", ro.csrf), 403, "forbidden");
    ck_assert_int_eq(status_of(as(&ro, "GET", "/v1/reports/campaigns", NULL, NULL)), 200);
    problem_is(as(&ro, "GET", "/v1/users", NULL, NULL), 403, "forbidden");
    /* a new role applies to the next request */
    snprintf(path, sizeof path, "/v1/users/%s", ro.user_id);
    ck_assert_int_eq(status_of(patch(path, ws_admin, "{\"role\":\"admin\"}", NULL)), 200);
    ck_assert_int_eq(status_of(as(&ro, "GET", "/v1/users", NULL, NULL)), 200);
}
END_TEST

START_TEST(sign_out_revocation_deactivation_and_a_new_password_end_sessions)
{
    struct person a = {0}, b, c;
    char path[128], whole[512];
    join(&a, "marketing");
    b = a; /* a second tab: the same session */
    /* sign-out: the cookie goes, the session ends */
    struct resp *r = as(&a, "DELETE", "/v1/session", NULL, a.csrf);
    ck_assert_int_eq(r->status, 204);
    char *sc = resp_header(r, "Set-Cookie");
    ck_assert_msg(sc && strstr(sc, "Max-Age=0"), "sign-out clears the cookie: %s", sc ? sc : "");
    free(sc);
    resp_free(r);
    ck_assert_int_eq(status_of(as(&b, "GET", "/v1/session", NULL, NULL)), 401);

    /* an admin revokes a session: the person's next request is refused */
    r = sign_in(a.email, PASSWORD, NULL);
    take_cookie(r, a.cookie, whole);
    snprintf(a.csrf, sizeof a.csrf, "%s", jstr(r, "csrf_token"));
    snprintf(path, sizeof path, "/v1/sessions/%s", jstr(r, "id"));
    resp_free(r);
    r = as(&a, "GET", "/v1/sessions", NULL, NULL);
    ck_assert_msg(r->status == 200 && json_array_size(json_object_get(r->json, "data")) == 1,
                  "own sessions: %s", r->body);
    resp_free(r);
    ck_assert_int_eq(status_of(del(path, ws_admin)), 204);
    ck_assert_int_eq(status_of(as(&a, "GET", "/v1/session", NULL, NULL)), 401);

    /* a new password ends the other sessions, not this one; the old password stops working */
    r = sign_in(a.email, PASSWORD, NULL);
    take_cookie(r, a.cookie, whole);
    snprintf(a.csrf, sizeof a.csrf, "%s", jstr(r, "csrf_token"));
    resp_free(r);
    c = a;
    r = sign_in(a.email, PASSWORD, NULL);
    take_cookie(r, c.cookie, whole);
    resp_free(r);
    r = as(&a, "PUT", "/v1/session/password",
           "{\"current_password\":\"wrong password!\",\"new_password\":\"another long secret\"}",
           a.csrf);
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "current_password"));
    resp_free(r);
    r = as(&a, "PUT", "/v1/session/password",
           "{\"current_password\":\"" PASSWORD "\",\"new_password\":\"short\"}", a.csrf);
    ck_assert(problem_names(r, "new_password"));
    resp_free(r);
    ck_assert_int_eq(status_of(as(&a, "PUT", "/v1/session/password",
                                  "{\"current_password\":\"" PASSWORD
                                  "\",\"new_password\":\"another long secret\"}",
                                  a.csrf)),
                     204);
    ck_assert_int_eq(status_of(as(&a, "GET", "/v1/session", NULL, NULL)), 200);
    ck_assert_int_eq(status_of(as(&c, "GET", "/v1/session", NULL, NULL)), 401);
    ck_assert_int_eq(status_of(sign_in(a.email, PASSWORD, NULL)), 401);
    ck_assert_int_eq(status_of(sign_in(a.email, "another long secret", NULL)), 200);

    /* deactivation ends them all */
    snprintf(path, sizeof path, "/v1/users/%s", a.user_id);
    ck_assert_int_eq(status_of(patch(path, ws_admin, "{\"active\":false}", NULL)), 200);
    ck_assert_int_eq(status_of(as(&a, "GET", "/v1/session", NULL, NULL)), 401);
    ck_assert_int_eq(status_of(sign_in(a.email, "another long secret", NULL)), 401);
    clear_failures();
}
END_TEST

START_TEST(invitation_links_work_once_until_they_expire_or_are_revoked)
{
    struct person p = {0}, q = {0}, x = {0};
    char body[300], path[128];
    join(&p, "sales");
    /* used */
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", p.token, PASSWORD);
    struct resp *r = as(NULL, "POST", "/v1/invitations/accept", body, NULL);
    assert_problem(r, 410, "gone");
    ck_assert_msg(strstr(jstr(r, "detail"), "used"), "%s", r->body);
    resp_free(r);
    /* expired */
    invite(&q, "sales");
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    char *sql;
    ck_assert(asprintf(&sql,
                       "UPDATE invitations SET expires_at = now() - interval '1 second'"
                       " WHERE user_id = '%s'",
                       q.user_id) > 0);
    pg_ok(pg, sql);
    free(sql);
    PQfinish(pg);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", q.token, PASSWORD);
    r = as(NULL, "POST", "/v1/invitations/accept", body, NULL);
    assert_problem(r, 410, "gone");
    ck_assert_msg(strstr(jstr(r, "detail"), "expired"), "%s", r->body);
    resp_free(r);
    /* revoked by a newer invitation of the same person, and by an admin */
    char first[128];
    snprintf(first, sizeof first, "%s", q.token);
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"name\":\"Q\",\"role\":\"sales\"}", q.email);
    r = post("/v1/invitations", ws_admin, body);
    ck_assert_int_eq(r->status, 201);
    snprintf(path, sizeof path, "/v1/invitations/%s", jstr(r, "id"));
    resp_free(r);
    ck_assert_int_eq(status_of(del(path, ws_admin)), 204);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", first, PASSWORD);
    problem_is(as(NULL, "POST", "/v1/invitations/accept", body, NULL), 410, "gone");
    /* unknown, malformed, weak */
    snprintf(body, sizeof body,
             "{\"token\":\"lli_00000000000000000000000000000000_"
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"password\":\"%s\"}",
             PASSWORD);
    problem_is(as(NULL, "POST", "/v1/invitations/accept", body, NULL), 404, "not-found");
    problem_is(as(NULL, "POST", "/v1/invitations/accept",
                  "{\"token\":\"x'; DROP TABLE users;--\","
                  "\"password\":\"" PASSWORD "\"}",
                  NULL),
               404, "not-found");
    invite(&x, "marketing");
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"short\"}", x.token);
    r = as(NULL, "POST", "/v1/invitations/accept", body, NULL);
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "password"));
    resp_free(r);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", x.token, x.email);
    r = as(NULL, "POST", "/v1/invitations/accept", body, NULL);
    ck_assert(problem_names(r, "password"));
    resp_free(r);
    /* the link still works after refused passwords */
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", x.token, PASSWORD);
    ck_assert_int_eq(status_of(as(NULL, "POST", "/v1/invitations/accept", body, NULL)), 200);
    /* a person who can sign in is not invited again */
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"name\":\"X\",\"role\":\"sales\"}", x.email);
    problem_is(post("/v1/invitations", ws_admin, body), 409, "conflict");
    /* only admins invite */
    problem_is(post("/v1/invitations", readonly_key, body), 403, "forbidden");
}
END_TEST

START_TEST(failed_sign_ins_are_slowed_down_per_account_and_per_address)
{
    struct person p = {0};
    join(&p, "sales");
    clear_failures();
    /* wrong password and unknown email: the same answer */
    struct resp *r = sign_in(p.email, "not the password", NULL);
    assert_problem(r, 401, "unauthorized");
    char detail[200];
    snprintf(detail, sizeof detail, "%s", jstr(r, "detail"));
    resp_free(r);
    r = sign_in(fresh_email("nobody"), "not the password", NULL);
    assert_problem(r, 401, "unauthorized");
    ck_assert_str_eq(jstr(r, "detail"), detail);
    resp_free(r);
    /* five failures of the account are free, the sixth locks it: even the right password
     * waits */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(status_of(sign_in(p.email, "not the password", NULL)), 401);
    ck_assert_int_eq(status_of(sign_in(p.email, "not the password", NULL)), 401);
    r = sign_in(p.email, PASSWORD, NULL);
    assert_problem(r, 429, "rate-limited");
    char *ra = resp_header(r, "Retry-After");
    ck_assert_msg(ra && atol(ra) >= 1 && atol(ra) <= 900, "Retry-After %s", ra ? ra : "");
    free(ra);
    resp_free(r);
    clear_failures();
    ck_assert_int_eq(status_of(sign_in(p.email, PASSWORD, NULL)), 200);
    /* twenty failures from one address, over many accounts, lock the address */
    for (int i = 0; i < 21; i++)
        ck_assert_int_eq(status_of(sign_in(fresh_email("spray"), "not the password", NULL)), 401);
    problem_is(sign_in(p.email, PASSWORD, NULL), 429, "rate-limited");
    clear_failures();
    ck_assert_int_eq(status_of(sign_in(p.email, PASSWORD, NULL)), 200);
}
END_TEST

START_TEST(bad_sign_in_bodies_get_precise_answers)
{
    struct resp *r = as(NULL, "POST", "/v1/session", "{\"email\":\"a@b.example\"}", NULL);
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "password"));
    resp_free(r);
    r = as(NULL, "POST", "/v1/session", "{\"email\":12,\"password\":\"x\",\"remember\":true}",
           NULL);
    ck_assert(problem_names(r, "email") && problem_names(r, "remember"));
    resp_free(r);
    problem_is(as(NULL, "POST", "/v1/session", "{\"email\":", NULL), 400, "malformed-request");
    /* no credentials at all */
    problem_is(as(NULL, "GET", "/v1/session", NULL, NULL), 401, "unauthorized");
    /* an API key is no session to sign out of */
    problem_is(del("/v1/session", ws_admin), 409, "conflict");
    r = get("/v1/session", ws_admin);
    ck_assert_msg(r->status == 200 && !strcmp(jstr(r, "kind"), "api_key"), "%s", r->body);
    resp_free(r);
    /* the lists' parameters */
    r = get("/v1/sessions?user_id=nobody", ws_admin);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert(problem_names(r, "user_id"));
    resp_free(r);
    r = get("/v1/invitations?pending=maybe", ws_admin);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert(problem_names(r, "pending"));
    resp_free(r);
    problem_is(del("/v1/sessions/not-a-uuid", ws_admin), 404, "not-found");
    /* a person sees their own sessions only */
    struct person p = {0}, q = {0};
    char path[160];
    join(&p, "sales");
    join(&q, "sales");
    snprintf(path, sizeof path, "/v1/sessions?user_id=%s", q.user_id);
    problem_is(as(&p, "GET", path, NULL, NULL), 403, "forbidden");
    r = get(path, ws_admin); /* an admin, any person's */
    ck_assert_msg(r->status == 200 && json_array_size(json_object_get(r->json, "data")) == 1, "%s",
                  r->body);
    snprintf(path, sizeof path, "/v1/sessions/%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(r->json, "data"), 0), "id")));
    resp_free(r);
    problem_is(as(&p, "DELETE", path, NULL, p.csrf), 404, "not-found"); /* not p's */
    ck_assert_int_eq(status_of(as(&q, "GET", "/v1/session", NULL, NULL)), 200);
    /* one email and password in two workspaces: the sign-in asks which */
    char other_admin[64], body[400];
    ck_assert(workspace_key("sessions-suite-2", "admin", other_admin));
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"name\":\"Twin\",\"role\":\"sales\"}", p.email);
    r = post("/v1/invitations", other_admin, body);
    ck_assert_int_eq(r->status, 201);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", jstr(r, "token"),
             PASSWORD);
    resp_free(r);
    ck_assert_int_eq(status_of(as(NULL, "POST", "/v1/invitations/accept", body, NULL)), 200);
    r = sign_in(p.email, PASSWORD, NULL);
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "workspace"));
    resp_free(r);
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"password\":\"%s\",\"workspace\":\"sessions-suite-2\"}", p.email,
             PASSWORD);
    r = as(NULL, "POST", "/v1/session", body, NULL);
    ck_assert_msg(r->status == 200 && !strcmp(json_string_value(json_object_get(
                                                  json_object_get(r->json, "workspace"), "slug")),
                                              "sessions-suite-2"),
                  "%ld %s", r->status, r->body);
    resp_free(r);
    clear_failures();
}
END_TEST

START_TEST(the_first_admin_is_invited_from_the_shell)
{
    char out[512], err[1024], body[700], whole[512];
    struct person p = {0};
    snprintf(p.email, sizeof p.email, "%s", fresh_email("first-admin"));
    const char *args[] = {"invite",
                          "--workspace",
                          "sessions-suite",
                          "--email",
                          p.email,
                          "--name",
                          "First Admin",
                          "--role",
                          "admin",
                          "--url",
                          "https://leadloop.example",
                          NULL};
    ck_assert_msg(run_leadloopd(args, NULL, out, sizeof out, err, sizeof err) == 0, "%s", err);
    const char *prefix = "https://leadloop.example/app/invitation#token=";
    ck_assert_msg(!strncmp(out, prefix, strlen(prefix)), "link: %s", out);
    out[strcspn(out, "\n")] = '\0';
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", out + strlen(prefix),
             PASSWORD);
    struct resp *r = as(NULL, "POST", "/v1/invitations/accept", body, NULL);
    ck_assert_msg(r->status == 200, "accept: %ld %s", r->status, r->body);
    take_cookie(r, p.cookie, whole);
    ck_assert_str_eq(jstr(r, "role"), "admin");
    snprintf(p.user_id, sizeof p.user_id, "%s",
             json_string_value(json_object_get(json_object_get(r->json, "user"), "id")));
    resp_free(r);
    ck_assert_int_eq(status_of(as(&p, "GET", "/v1/users", NULL, NULL)), 200);
    /* once they can sign in, the shell refuses to invite them again ... */
    ck_assert_int_ne(run_leadloopd(args, NULL, out, sizeof out, err, sizeof err), 0);
    /* ... until an admin deactivates them: a new invitation sets a new password */
    char path[128];
    snprintf(path, sizeof path, "/v1/users/%s", p.user_id);
    ck_assert_int_eq(status_of(patch(path, ws_admin, "{\"active\":false}", NULL)), 200);
    ck_assert_msg(run_leadloopd(args, NULL, out, sizeof out, err, sizeof err) == 0, "%s", err);
    out[strcspn(out, "\n")] = '\0';
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"a brand new password\"}",
             out + strlen(prefix));
    ck_assert_int_eq(status_of(as(NULL, "POST", "/v1/invitations/accept", body, NULL)), 200);
    ck_assert_int_eq(status_of(sign_in(p.email, "a brand new password", NULL)), 200);
    /* bad arguments are refused before anything is written */
    const char *bad[] = {"invite", "--workspace", "sessions-suite", "--email", "not-an-email",
                         "--name", "X",           "--role",         "admin",   NULL};
    ck_assert_int_eq(run_leadloopd(bad, NULL, out, sizeof out, err, sizeof err), 2);
}
END_TEST

/* True when the file at path holds needle. */
static bool file_holds(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    bool found = false;
    while (f && !found && getline(&line, &cap, f) > 0)
        found = strstr(line, needle) != NULL;
    free(line);
    if (f)
        fclose(f);
    return found;
}

START_TEST(no_password_or_hash_reaches_an_answer_or_the_log)
{
    struct person p = {0};
    char path[128];
    join(&p, "marketing");
    snprintf(path, sizeof path, "/v1/users/%s", p.user_id);
    const char *paths[] = {path, "/v1/users?limit=500", "/v1/changes?limit=500",
                           "/v1/audit?entity=user&limit=500", "/v1/invitations"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp *r = get(paths[i], ws_admin);
        ck_assert_msg(r->status == 200, "%s: %ld", paths[i], r->status);
        ck_assert_msg(!strstr(r->body, "argon2") && !strstr(r->body, PASSWORD) &&
                          !strstr(r->body, "password_hash") && !strstr(r->body, p.token),
                      "%s shows a secret: %.600s", paths[i], r->body);
        resp_free(r);
    }
    struct resp *r = as(&p, "GET", "/v1/session", NULL, NULL);
    ck_assert(!strstr(r->body, "argon2") && !strstr(r->body, "lls_"));
    resp_free(r);
    ck_assert_msg(!file_holds(main_daemon.log, "argon2") &&
                      !file_holds(main_daemon.log, PASSWORD) &&
                      !file_holds(main_daemon.log, "lls_") && !file_holds(main_daemon.log, "lli_"),
                  "the daemon's log holds a password, hash or token");
}
END_TEST

Suite *sessions_suite(void)
{
    Suite *s = suite_create("sessions");
    TCase *tc = tcase_create("sessions");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, an_invitee_sets_a_password_and_is_signed_in_with_a_strict_cookie);
    tcase_add_test(tc, a_sign_in_never_keeps_the_session_the_browser_had);
    tcase_add_test(tc, cookie_writes_need_the_csrf_token_and_are_authored_by_the_person);
    tcase_add_test(tc, the_persons_role_decides_what_the_session_may_do);
    tcase_add_test(tc, sign_out_revocation_deactivation_and_a_new_password_end_sessions);
    tcase_add_test(tc, invitation_links_work_once_until_they_expire_or_are_revoked);
    tcase_add_test(tc, failed_sign_ins_are_slowed_down_per_account_and_per_address);
    tcase_add_test(tc, bad_sign_in_bodies_get_precise_answers);
    tcase_add_test(tc, the_first_admin_is_invited_from_the_shell);
    tcase_add_test(tc, no_password_or_hash_reaches_an_answer_or_the_log);
    suite_add_tcase(s, tc);
    return s;
}
