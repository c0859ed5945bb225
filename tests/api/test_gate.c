/* The daemon under attack and at its edges: admission from the headers before any body is
 * read, request framing (every refusal problem+json with a request id, or a closed
 * connection) and client deadlines (a head that trickles, a body below the minimum rate);
 * make test-faults holds 1,000 slowloris connections against the same daemon code. Raw
 * sockets, because libcurl would fix what these tests break. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"
#include "support.h"

/* The status of a raw answer, and that it is problem+json with a request id. */
static void assert_raw_problem(const char *answer, int status, const char *what)
{
    int got = 0;
    ck_assert_msg(sscanf(answer, "HTTP/1.%*d %d", &got) == 1 && got == status,
                  "%s: expected %d, got: %.300s", what, status, answer);
    ck_assert_msg(strcasestr(answer, "Content-Type: application/problem+json") != NULL,
                  "%s: not problem+json: %.300s", what, answer);
    ck_assert_msg(strcasestr(answer, "X-Request-Id: ") != NULL, "%s: no X-Request-Id: %.300s", what,
                  answer);
    ck_assert_msg(strstr(answer, "\"status\":") != NULL, "%s: no problem body: %.300s", what,
                  answer);
}

/* One raw request on a fresh connection: the answer must be the problem and the
 * connection closed after it. */
static void expect_refused(const char *bytes, size_t len, int status, const char *what)
{
    int fd = sock_from(&main_daemon, 1);
    bool closed;
    sock_send(fd, bytes, len);
    char *answer = sock_read_until_close(fd, 5000, &closed);
    assert_raw_problem(answer, status, what);
    ck_assert_msg(closed, "%s: the connection stayed open", what);
    free(answer);
    close(fd);
}

static char *repeat(const char *unit, int n, const char *before, const char *after)
{
    size_t u = strlen(unit), b = strlen(before), a = strlen(after);
    char *s = malloc(b + u * (size_t)n + a + 1), *p = s;
    ck_assert_ptr_nonnull(s);
    memcpy(p, before, b);
    p += b;
    for (int i = 0; i < n; i++, p += u)
        memcpy(p, unit, u);
    memcpy(p, after, a + 1);
    return s;
}

START_TEST(bad_heads_get_problem_json_and_a_closed_connection)
{
    char *s;
    static const char v2[] = "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n";
    static const char vbad[] = "GET /healthz HTTP/1.1x\r\nHost: x\r\n\r\n";
    static const char fold[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n";
    static const char nohost[] = "GET /healthz HTTP/1.1\r\nAccept: */*\r\n\r\n";
    static const char ctl[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\001b\r\n\r\n";
    expect_refused(v2, sizeof v2 - 1, 505, "HTTP/2.0");
    expect_refused(vbad, sizeof vbad - 1, 400, "a broken version");
    expect_refused(fold, sizeof fold - 1, 400, "a folded header");
    expect_refused(nohost, sizeof nohost - 1, 400, "HTTP/1.1 without Host");
    expect_refused(ctl, sizeof ctl - 1, 400, "a control character in a header");

    s = repeat("a", 9000, "GET /healthz?x=", " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_refused(s, strlen(s), 414, "a 9,000-byte target");
    free(s);
    s = repeat("&a=1", 500, "GET /v1/leads?b=1", " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_refused(s, strlen(s), 414, "500 query parameters");
    free(s);
    s = repeat("X-Many: 1\r\n", 150, "GET /healthz HTTP/1.1\r\nHost: x\r\n", "\r\n");
    expect_refused(s, strlen(s), 431, "150 headers");
    free(s);
    s = repeat("b", 17000, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", "\r\n\r\n");
    expect_refused(s, strlen(s), 431, "a 17,000-byte header");
    free(s);
}
END_TEST

/* After a first good request on a connection, libmicrohttpd parses the next head itself;
 * its error pages are replaced by ours. */
START_TEST(later_heads_on_a_connection_get_problem_json_too)
{
    static const char ok[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    const char *bad[] = {"GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n",
                         "POST /v1/leads HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
                         "GET /healthz HTTP/1.1\r\nX-No-Host: 1\r\n\r\n", NULL};
    const int status[] = {505, 400, 400};
    char *big = repeat("&a=1", 6000, "GET /healthz?b=1", " HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 4; i++) {
        int fd = sock_from(&main_daemon, 1);
        bool closed;
        sock_send(fd, ok, sizeof ok - 1);
        char *first = sock_read_answer(fd, 5000);
        ck_assert_msg(strncmp(first, "HTTP/1.1 200", 12) == 0, "first request: %.200s", first);
        free(first);
        const char *b = bad[i] ? bad[i] : big;
        sock_send(fd, b, strlen(b));
        char *answer = sock_read_until_close(fd, 5000, &closed);
        /* 6,000 parameters outgrow libmicrohttpd's memory for a connection: 431 */
        assert_raw_problem(answer, bad[i] ? status[i] : 431, bad[i] ? bad[i] : "6,000 params");
        ck_assert_msg(closed, "the connection stayed open after %d", bad[i] ? status[i] : 431);
        free(answer);
        close(fd);
    }
    free(big);
}
END_TEST

/* RFC 9112 6.1: Transfer-Encoding with Content-Length is a smuggling attempt behind a proxy
 * that frames by Content-Length. */
START_TEST(transfer_encoding_with_content_length_is_refused_and_closed)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "POST /v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: 4\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n4\r\n{}  \r\n0\r\n\r\n",
                     admin_key);
    expect_refused(buf, (size_t)n, 400, "Transfer-Encoding with Content-Length");
}
END_TEST

/* Refusals that the headers decide are answered before a byte of the body is sent: the
 * client announces 64 MiB and sends none of it. */
START_TEST(admission_is_decided_before_the_body)
{
    struct {
        const char *key, *path, *type;
        const char *length;
        int status;
    } cases[] = {
        {NULL, "/v1/leads/import", "text/csv", "67108864", 401},
        {"llk_forgedforgedforgedforgedforgedforgedforgedf", "/v1/leads/import", "text/csv",
         "67108864", 401},
        {readonly_key, "/v1/leads/import", "text/csv", "67108864", 403},
        {readonly_key, "/v1/leads", "application/json", "60000", 403},
        {admin_key, "/v1/leads", "application/json", "99999999", 413},
        {admin_key, "/v1/leads", "text/plain", "100", 415},
        {admin_key, "/v1/no-such-thing", "application/json", "100", 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char head[1024], auth[128] = "";
        int fd = sock_from(&main_daemon, 1), n;
        bool closed;
        long t0;
        if (cases[i].key)
            snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", cases[i].key);
        n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\n"
                     "Content-Length: %s\r\n\r\n",
                     cases[i].path, auth, cases[i].type, cases[i].length);
        t0 = sock_now_ms();
        sock_send(fd, head, (size_t)n);
        char *answer = sock_read_until_close(fd, 5000, &closed);
        assert_raw_problem(answer, cases[i].status, cases[i].path);
        ck_assert_msg(closed, "case %zu: the connection waits for a body it refused", i);
        ck_assert_msg(sock_now_ms() - t0 < 4000, "case %zu: answered only after %ld ms", i,
                      sock_now_ms() - t0);
        free(answer);
        close(fd);
    }
}
END_TEST

/* A daemon with short client clocks, for the deadline tests. */
static void start_strict(struct daemon *d, const char *min_rate)
{
    char rate[64];
    snprintf(rate, sizeof rate, "LEADLOOP_MIN_BODY_RATE=%s", min_rate);
    const char *env[] = {"LEADLOOP_HEADER_TIMEOUT_S=1", rate, NULL};
    ck_assert(daemon_start(d, env));
}

/* A head sent a byte at a time, 20 ms apart, for at most 6 s: the daemon must cut it off
 * (408 or close) within the header timeout plus a tick, though bytes keep coming. */
static long trickle_until_closed(int fd, const char *head)
{
    long t0 = sock_now_ms();
    for (const char *p = head; sock_now_ms() - t0 < 6000; p = *p ? p + 1 : head) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (send(fd, p, 1, MSG_NOSIGNAL) != 1)
            return sock_now_ms() - t0; /* reset */
        if (poll(&pf, 1, 20) > 0) {
            char buf[2048];
            ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
            if (n <= 0)
                return sock_now_ms() - t0;
            buf[n] = '\0';
            ck_assert_msg(strstr(buf, " 408 ") != NULL, "a trickled head got: %.200s", buf);
        }
    }
    return -1;
}

START_TEST(a_trickling_head_is_cut_off)
{
    static const char slow[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaa";
    static const char ok[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    struct daemon d;
    long ms;
    int fd;
    start_strict(&d, "1024");
    /* the first head of a connection (held by the gate) */
    fd = sock_from(&d, 1);
    ms = trickle_until_closed(fd, slow);
    ck_assert_msg(ms >= 900 && ms < 2500, "first head: cut off after %ld ms (timeout 1 s)", ms);
    close(fd);
    /* a later head on a kept-alive connection (held by libmicrohttpd's thread) */
    fd = sock_from(&d, 1);
    sock_send(fd, ok, sizeof ok - 1);
    char *first = sock_read_answer(fd, 5000);
    ck_assert_msg(strncmp(first, "HTTP/1.1 200", 12) == 0, "first request: %.200s", first);
    free(first);
    ms = trickle_until_closed(fd, slow);
    ck_assert_msg(ms >= 900 && ms < 2500, "later head: cut off after %ld ms (timeout 1 s)", ms);
    close(fd);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

START_TEST(a_body_below_the_minimum_rate_is_cut_off)
{
    struct daemon d;
    char head[512];
    int fd, n;
    long t0, ms = -1;
    start_strict(&d, "100000"); /* 100 kB/s; the client sends about 2.5 kB/s */
    fd = sock_from(&d, 1);
    n = snprintf(head, sizeof head,
                 "POST /v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{\"email\":\"",
                 admin_key);
    sock_send(fd, head, (size_t)n);
    t0 = sock_now_ms();
    while (sock_now_ms() - t0 < 6000) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (send(fd, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 50, MSG_NOSIGNAL) != 50 ||
            (poll(&pf, 1, 20) > 0 && recv(fd, head, sizeof head, 0) <= 0)) {
            ms = sock_now_ms() - t0;
            break;
        }
    }
    ck_assert_msg(ms >= 900 && ms < 2500, "a slow body was cut off after %ld ms (grace 1 s)", ms);
    close(fd);
    /* the daemon still serves */
    fd = sock_from(&d, 1);
    static const char ok[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    sock_send(fd, ok, sizeof ok - 1);
    char *answer = sock_read_answer(fd, 5000);
    ck_assert_msg(strncmp(answer, "HTTP/1.1 200", 12) == 0, "after: %.200s", answer);
    free(answer);
    close(fd);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* Issue 15: 2,000 clients connect at once, each sends a first request (GET /healthz), and
 * a fresh client still gets GET /readyz whole in under a second, timed on the monotonic
 * clock from its connect to the end of its answer: once while the 2,000 are arriving and
 * once while they are all held as served keep-alive connections. The daemon's connection
 * limits (512 in all, 256 an address by default) are raised so that none is refused: the
 * test is about holding them, not refusing them. LL_SKIP_2000=1 skips it, and so does a
 * daemon under LL_DAEMON_WRAPPER (valgrind: a bound on latency means nothing there, and
 * valgrind runs at most 500 threads by default, which a thread a connection exceeds). */
enum { MANY = 2000 };

/* Milliseconds from connect to the whole answer; *connect_ms: of them, the connect (a
 * full accept queue drops the SYN: the client retries after 1 s). */
static long readyz_ms(const struct daemon *d, char *status, size_t cap, long *connect_ms)
{
    static const char req[] = "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";
    long t0 = sock_now_ms();
    int fd = sock_from(d, 1);
    *connect_ms = sock_now_ms() - t0;
    sock_send(fd, req, sizeof req - 1);
    char *answer = sock_read_answer(fd, 10000);
    long ms = sock_now_ms() - t0;
    snprintf(status, cap, "%.*s", (int)strcspn(answer, "\r\n"), answer);
    free(answer);
    close(fd);
    return ms;
}

START_TEST(two_thousand_connections_at_once_and_readyz_within_a_second)
{
    static const char hz[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    static struct pollfd pf[MANY];
    static int fds[MANY];
    static bool sent[MANY], answered[MANY];
    static char got[MANY][16];
    struct sockaddr_in dst = {.sin_family = AF_INET};
    struct rlimit rl;
    struct daemon d;
    char status[64];
    long ms_arriving, ms_held, conn_arriving, conn_held, t0;
    int nsent = 0, nanswered = 0, ok = 0, bad = -1;
    const char *skip = getenv("LL_SKIP_2000"), *wrapper = getenv("LL_DAEMON_WRAPPER");
    if ((skip && !strcmp(skip, "1")) || (wrapper && *wrapper)) {
        fprintf(stderr, "gate: 2,000 connections: skipped (%s)\n",
                wrapper && *wrapper ? "LL_DAEMON_WRAPPER" : "LL_SKIP_2000=1");
        return;
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < MANY + 512) {
        rl.rlim_cur = rl.rlim_max < MANY + 512 ? rl.rlim_max : MANY + 512;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ck_assert_msg(rl.rlim_cur >= MANY + 512, "RLIMIT_NOFILE allows %llu descriptors, not %d",
                  (unsigned long long)rl.rlim_cur, MANY + 512);
    const char *env[] = {"LEADLOOP_MAX_CONNECTIONS=2500", "LEADLOOP_MAX_CONNECTIONS_PER_IP=2500",
                         "LEADLOOP_LOG_LEVEL=warn", NULL};
    ck_assert(daemon_start(&d, env));
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons((uint16_t)d.port);

    /* all at once: non-blocking connects, then each sends its request when writable */
    for (int i = 0; i < MANY; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ck_assert_msg(fd >= 0, "socket %d: %s", i, strerror(errno));
        ck_assert_msg(connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0 || errno == EINPROGRESS,
                      "connect %d: %s", i, strerror(errno));
        fds[i] = fd;
        pf[i] = (struct pollfd){.fd = fd, .events = POLLOUT};
    }
    t0 = sock_now_ms();
    while (nsent < MANY && sock_now_ms() - t0 < 20000) {
        int n = poll(pf, MANY, 100);
        for (int i = 0; n > 0 && i < MANY; i++) {
            int err = 0;
            socklen_t len = sizeof err;
            if (sent[i] || !(pf[i].revents & (POLLOUT | POLLERR | POLLHUP)))
                continue;
            getsockopt(pf[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
            ck_assert_msg(err == 0, "connection %d: %s", i, strerror(err));
            ck_assert_int_eq(send(pf[i].fd, hz, sizeof hz - 1, MSG_NOSIGNAL),
                             (ssize_t)(sizeof hz - 1));
            sent[i] = true;
            nsent++;
            pf[i].fd = -1; /* polled again for its answer below */
        }
    }
    ck_assert_msg(nsent == MANY, "only %d of %d connections were made in 20 s", nsent, MANY);

    /* a fresh client while the 2,000 are arriving */
    ms_arriving = readyz_ms(&d, status, sizeof status, &conn_arriving);
    ck_assert_msg(strncmp(status, "HTTP/1.1 200", 12) == 0, "/readyz beside 2,000 arriving: %s",
                  status);

    /* every one is answered, and stays connected */
    for (int i = 0; i < MANY; i++)
        pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    t0 = sock_now_ms();
    while (nanswered < MANY && sock_now_ms() - t0 < 30000) {
        int n = poll(pf, MANY, 100);
        for (int i = 0; n > 0 && i < MANY; i++) {
            char buf[512];
            ssize_t r;
            if (answered[i] || !(pf[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            r = recv(pf[i].fd, buf, sizeof buf - 1, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            answered[i] = true;
            nanswered++;
            buf[r > 0 ? r : 0] = '\0';
            snprintf(got[i], sizeof got[i], "%.12s", r > 0 ? buf : "(closed)");
            ok += strncmp(buf, "HTTP/1.1 200", 12) == 0;
            pf[i].fd = -1;
        }
    }
    for (int i = 0; i < MANY && bad < 0; i++)
        if (strncmp(got[i], "HTTP/1.1 200", 12) != 0)
            bad = i;
    ck_assert_msg(ok == MANY, "%d of %d connections answered 200 within 30 s; e.g. #%d: %s", ok,
                  MANY, bad, bad >= 0 && answered[bad] ? got[bad] : "(no answer)");

    /* a fresh client while the 2,000 are held */
    ms_held = readyz_ms(&d, status, sizeof status, &conn_held);
    ck_assert_msg(strncmp(status, "HTTP/1.1 200", 12) == 0, "/readyz beside 2,000 held: %s",
                  status);
    fprintf(stderr,
            "gate: 2,000 connections: /readyz in %ld ms (connect %ld) while they arrive, %ld ms "
            "(connect %ld) while they are held\n",
            ms_arriving, conn_arriving, ms_held, conn_held);
    ck_assert_msg(ms_arriving < 1000,
                  "/readyz took %ld ms (its connect %ld) beside 2,000 arriving connections",
                  ms_arriving, conn_arriving);
    ck_assert_msg(ms_held < 1000,
                  "/readyz took %ld ms (its connect %ld) beside 2,000 held "
                  "connections",
                  ms_held, conn_held);
    for (int i = 0; i < MANY; i++)
        close(fds[i]);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

Suite *gate_suite(void)
{
    Suite *s = suite_create("gate");
    TCase *t = tcase_create("framing");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, bad_heads_get_problem_json_and_a_closed_connection);
    tcase_add_test(t, later_heads_on_a_connection_get_problem_json_too);
    tcase_add_test(t, transfer_encoding_with_content_length_is_refused_and_closed);
    tcase_add_test(t, admission_is_decided_before_the_body);
    suite_add_tcase(s, t);
    t = tcase_create("deadlines");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, a_trickling_head_is_cut_off);
    tcase_add_test(t, a_body_below_the_minimum_rate_is_cut_off);
    suite_add_tcase(s, t);
    t = tcase_create("many");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, two_thousand_connections_at_once_and_readyz_within_a_second);
    suite_add_tcase(s, t);
    return s;
}
