/* Scenarios 7 and 8: slow clients. Slowloris: 1,000 connections from five loopback
 * addresses that send part of a request head and then a byte now and then, against a
 * daemon limited to 200 connections, first as the first request of their connections
 * (they wait in the gate, without a thread), then after one served request (they make
 * room at the limit); a normal client's GET must still be answered within 100 ms.
 * Trickling bulk uploads: one workspace trickles two imports (2 bulk slots): one holds a
 * slot until the minimum body rate cuts it off, the other may not take the last slot, so
 * another workspace's batch goes through at once. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault.h"
#include "scenarios.h"

static int thread_count(pid_t pid)
{
    char path[64], line[256];
    int n = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* The worst of `rounds` GETs by a normal client, in ms. */
static long worst_get_ms(const struct daemon *d, int rounds)
{
    static const char ok[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    long worst = 0;
    for (int i = 0; i < rounds; i++) {
        long t0 = sock_now_ms();
        int fd = sock_from(d, 1);
        sock_send(fd, ok, sizeof ok - 1);
        char *answer = sock_read_answer(fd, 5000);
        ck_assert_msg(strncmp(answer, "HTTP/1.1 200", 12) == 0, "normal client got: %.400s",
                      answer);
        free(answer);
        close(fd);
        if (sock_now_ms() - t0 > worst)
            worst = sock_now_ms() - t0;
    }
    return worst;
}

/* 1,000 connections from 127.0.0.2-6 that send part of a head and then a byte now and
 * then: first heads wait in the gate (no thread each), later heads on kept-alive
 * connections make room when the daemon nears its connection limit. */
START_TEST(slowloris_from_several_addresses_does_not_lock_out_a_client)
{
    enum { ATTACKERS = 1000, ADDRS = 5 };
    static const char part[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    static const char ok[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    struct rlimit rl;
    struct scene sc;
    static int fds[ATTACKERS];
    long worst_first, worst_later;
    int threads;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* a small connection limit, so that 1,000 would be far past it */
    const char *env[] = {"LEADLOOP_MAX_CONNECTIONS=200", "LEADLOOP_MAX_CONNECTIONS_PER_IP=200",
                         NULL};
    scene_begin(&sc, "slowloris", env);
    struct daemon *d = &sc.d;

    /* 1: every attacker waits in its first head */
    for (int i = 0; i < ATTACKERS; i++) {
        fds[i] = sock_from(d, 2 + i % ADDRS);
        sock_send(fds[i], part, sizeof part - 1);
    }
    for (int i = 0; i < ATTACKERS; i++)
        sock_send(fds[i], "a", 1);
    threads = thread_count(d->pid);
    worst_first = worst_get_ms(d, 20);
    fault_report("slowloris-first-heads",
                 "connections=1000 addresses=5 max_connections=200 daemon_threads=%d "
                 "normal_get_worst_ms=%ld",
                 threads, worst_first);
    ck_assert_msg(threads < 60, "waiting heads hold threads: %d", threads);
    ck_assert_msg(worst_first < 100, "a normal client waited %ld ms", worst_first);
    for (int i = 0; i < ATTACKERS; i++)
        close(fds[i]);

    /* 2: every attacker completes one request, then trickles the next head */
    int held = 0;
    for (int i = 0; i < ATTACKERS; i++) {
        fds[i] = sock_from(d, 2 + i % ADDRS);
        sock_send(fds[i], ok, sizeof ok - 1);
    }
    /* the attackers' own answers are not the point: 15 s for all of them to be read (an
     * attacker closed to make room may get its answer, a reset or nothing) */
    long until = sock_now_ms() + 15000, silent = 0;
    for (int i = 0; i < ATTACKERS; i++) {
        long left = until - sock_now_ms();
        char *a = sock_read_answer(fds[i], left > 1000 ? 1000 : left > 0 ? (int)left : 0);
        held += strncmp(a, "HTTP/1.1 200", 12) == 0;
        silent += a[0] == '\0';
        free(a);
        send(fds[i], part, sizeof part - 1, MSG_NOSIGNAL);
    }
    worst_later = worst_get_ms(d, 20);
    fault_report("slowloris-kept-alive",
                 "connections=1000 served_once=%d no_answer_read=%ld then_trickling "
                 "normal_get_worst_ms=%ld",
                 held, silent, worst_later);
    ck_assert_msg(worst_later < 100, "a normal client waited %ld ms", worst_later);
    for (int i = 0; i < ATTACKERS; i++)
        close(fds[i]);
    scene_end(&sc);
}
END_TEST

/* Starts a CSV import of 1 MB that it then sends at about 100 bytes a second. */
static int trickle_import(const struct daemon *d, const char *key)
{
    char head[512];
    int fd = sock_from(d, 1);
    int n = snprintf(head, sizeof head,
                     "POST /v1/leads/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: text/csv\r\nContent-Length: 1000000\r\n\r\nemail\n",
                     key);
    sock_send(fd, head, (size_t)n);
    return fd;
}

static bool bulk_in_use(const struct daemon *d, int n)
{
    char want[64];
    int fd = sock_from(d, 1);
    snprintf(want, sizeof want, "leadloop_bulk_in_use %d\n", n);
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    sock_send(fd, get, sizeof get - 1);
    char *m = sock_read_answer(fd, 5000);
    bool yes = strstr(m, want) != NULL;
    free(m);
    close(fd);
    return yes;
}

START_TEST(trickling_bulk_uploads_do_not_hold_every_slot)
{
    const char *env[] = {"LEADLOOP_BULK_SLOTS=2", "LEADLOOP_HEADER_TIMEOUT_S=2",
                         "LEADLOOP_MIN_BODY_RATE=1024", "LEADLOOP_BULK_WAIT_MS=60000", NULL};
    static const char batch[] = "{\"leads\":[{\"email\":\"b-1@example.com\"}]}";
    struct scene sc;
    char other[64], head[512];
    long t0, cut_ms = -1, b_ms;
    scene_begin(&sc, "trickle", env);
    scene_workspace_key(&sc, "faults-b", other);

    int a1 = trickle_import(&sc.d, sc.key), a2 = trickle_import(&sc.d, sc.key);
    long deadline = sock_now_ms() + 10000;
    while (!bulk_in_use(&sc.d, 1) && sock_now_ms() < deadline)
        pause_ms(20);
    ck_assert_msg(bulk_in_use(&sc.d, 1), "the first trickling import holds no slot");

    /* workspace B's batch: the slot workspace A may not take */
    t0 = sock_now_ms();
    int b = sock_from(&sc.d, 1);
    int n = snprintf(head, sizeof head,
                     "POST /v1/leads/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     other, strlen(batch), batch);
    sock_send(b, head, (size_t)n);
    char *answer = sock_read_answer(b, 10000);
    b_ms = sock_now_ms() - t0;
    ck_assert_msg(strncmp(answer, "HTTP/1.1 200", 12) == 0, "workspace B's batch: %.300s", answer);
    free(answer);
    close(b);

    /* A's uploads trickle on: 10 bytes every 100 ms, until the daemon cuts them off */
    t0 = sock_now_ms();
    while (sock_now_ms() - t0 < 15000) {
        if (send(a1, "x@e.co\nab\n", 10, MSG_NOSIGNAL) != 10) {
            cut_ms = sock_now_ms() - t0;
            break;
        }
        send(a2, "x@e.co\nab\n", 10, MSG_NOSIGNAL);
        pause_ms(100);
    }
    deadline = sock_now_ms() + 10000;
    while (!bulk_in_use(&sc.d, 0) && sock_now_ms() < deadline)
        pause_ms(20);
    fault_report("trickling-bulk",
                 "slots=2 other_workspace_batch_ms=%ld trickler_cut_after_ms=%ld "
                 "slots_free_after=%s",
                 b_ms, cut_ms, bulk_in_use(&sc.d, 0) ? "yes" : "no");
    ck_assert_msg(b_ms < 2000, "workspace B waited %ld ms", b_ms);
    ck_assert_msg(cut_ms >= 0, "the trickling upload was never cut off");
    ck_assert_msg(bulk_in_use(&sc.d, 0), "a bulk slot is still held after the cut");
    close(a1);
    close(a2);
    scene_end(&sc);
}
END_TEST

TCase *slow_clients_tcase(void)
{
    TCase *tc = tcase_create("slow_clients");
    tcase_add_test(tc, slowloris_from_several_addresses_does_not_lock_out_a_client);
    tcase_add_test(tc, trickling_bulk_uploads_do_not_hold_every_slot);
    tcase_set_timeout(tc, 120);
    return tc;
}
