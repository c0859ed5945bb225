/* make bench: N idle keep-alive HTTP connections to 127.0.0.1, held open until told.
 *
 *   idle_conns PORT N [PATH]
 *
 * Opens N connections to 127.0.0.1:PORT (at most WINDOW of them being set up at once),
 * sends one "GET PATH" (default /healthz) on each and reads its whole answer, so that each
 * is a real keep-alive connection that has been served; then holds them idle. It prints
 * one line on stdout when every connection is set up (or has failed):
 *   IDLE ready open=N failed=N non200=N setup_ms=N
 * then holds them: SIGUSR1 prints "IDLE status open=N closed=N" (closed: by the server
 * since), SIGTERM, SIGINT or end of file on stdin prints "IDLE end open=N closed=N" and
 * exits. RLIMIT_NOFILE is raised to its hard limit (N + 64 descriptors are needed). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { WINDOW = 256, BUF = 2048, SETUP_MS = 120000 };
enum state { CONNECTING, SENT, IDLE, DONE };

struct conn {
    int fd;
    enum state st;
    size_t got;
    char buf[BUF];
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int ep;
static struct sockaddr_in dst;
static char request[512];
static size_t request_len;
static long open_n, failed, non200, closed_later;

static void fail(struct conn *c)
{
    if (c->st == IDLE) {
        open_n--;
        closed_later++;
    } else {
        failed++;
    }
    close(c->fd);
    c->fd = -1;
    c->st = DONE;
}

static bool start(struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->st = CONNECTING;
    c->got = 0;
    if (c->fd < 0) {
        fprintf(stderr, "idle_conns: socket: %s\n", strerror(errno));
        c->st = DONE;
        failed++;
        return false;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
        fprintf(stderr, "idle_conns: connect: %s\n", strerror(errno));
        fail(c);
        return false;
    }
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        fail(c);
        return false;
    }
    return true;
}

/* An answer is whole when its head has ended and Content-Length bytes of body follow. */
static bool answer_whole(const struct conn *c)
{
    const char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
    const char *cl;
    long len = 0;
    if (!end)
        return false;
    cl = strcasestr(c->buf, "\r\nContent-Length:");
    if (cl && cl < end)
        len = strtol(cl + 17, NULL, 10);
    return (size_t)(end + 4 - c->buf) + (size_t)len <= c->got;
}

/* Returns true when the connection left the setting-up states (idle or failed). */
static bool on_event(struct conn *c, uint32_t events)
{
    if (c->st == CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || send(c->fd, request, request_len, MSG_NOSIGNAL) != (ssize_t)request_len) {
            if (failed < 5)
                fprintf(stderr, "idle_conns: connect or send: %s\n", strerror(err ? err : errno));
            fail(c);
            return true;
        }
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->st = SENT;
        return false;
    }
    if (c->st == SENT) {
        ssize_t n = recv(c->fd, c->buf + c->got, BUF - 1 - c->got, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return false;
        if (n <= 0) {
            if (failed < 5)
                fprintf(stderr, "idle_conns: closed before an answer (%s)\n",
                        n == 0 ? "end of file" : strerror(errno));
            fail(c);
            return true;
        }
        c->got += (size_t)n;
        c->buf[c->got] = '\0';
        if (!answer_whole(c)) {
            if (c->got >= BUF - 1) {
                fail(c);
                return true;
            }
            return false;
        }
        if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0) {
            if (non200 < 5)
                fprintf(stderr, "idle_conns: answered %.60s\n", c->buf);
            non200++;
            fail(c);
            return true;
        }
        c->st = IDLE;
        open_n++;
        return true;
    }
    if (c->st == IDLE) { /* the server closed it, or sent something unasked */
        char scratch[512];
        ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return false;
        fail(c);
    }
    return false;
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    struct epoll_event evs[256];
    struct conn *conns;
    sigset_t mask;
    long n, next = 0, settling = 0, t0, port;
    int sfd;
    bool quit = false, ready = false, stdin_eof = false;
    const char *path = argc > 3 ? argv[3] : "/healthz";

    if (argc < 3 || (port = strtol(argv[1], NULL, 10)) <= 0 || port > 65535 ||
        (n = strtol(argv[2], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: idle_conns PORT N [PATH]\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64)
        fprintf(stderr, "idle_conns: RLIMIT_NOFILE is %llu: not enough for %ld connections\n",
                (unsigned long long)rl.rlim_cur, n);
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%ld\r\n\r\n", path, port);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    conns = calloc((size_t)n, sizeof *conns);
    ep = epoll_create1(EPOLL_CLOEXEC);
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (!conns || ep < 0 || sfd < 0) {
        perror("idle_conns");
        return 1;
    }
    {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sfd};
        struct epoll_event in = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &ep};
        epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
        /* stdin: end of file ends the hold (a terminal or /dev/null may not be pollable) */
        if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &in) != 0 && errno != EPERM)
            fprintf(stderr, "idle_conns: not watching stdin: %s\n", strerror(errno));
    }

    t0 = now_ms();
    while (!quit) {
        int k;
        while (!ready && settling < WINDOW && next < n) {
            if (start(&conns[next++]))
                settling++;
        }
        if (!ready && (settling == 0 || now_ms() - t0 > SETUP_MS)) {
            ready = true;
            printf("IDLE ready open=%ld failed=%ld non200=%ld unfinished=%ld setup_ms=%ld\n",
                   open_n, failed, non200, settling, now_ms() - t0);
            fflush(stdout);
        }
        if (ready && stdin_eof)
            break;
        k = epoll_wait(ep, evs, 256, ready ? -1 : 1000);
        for (int i = 0; i < k; i++) {
            if (evs[i].data.ptr == &sfd) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGUSR1) {
                        printf("IDLE status open=%ld closed=%ld\n", open_n, closed_later);
                        fflush(stdout);
                    } else {
                        quit = true;
                    }
                }
            } else if (evs[i].data.ptr == &ep) {
                char b[256];
                ssize_t r = read(0, b, sizeof b);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                    stdin_eof = true;
                    epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
                }
            } else {
                struct conn *c = evs[i].data.ptr;
                bool was_setting = c->st == CONNECTING || c->st == SENT;
                if (on_event(c, evs[i].events) && was_setting)
                    settling--;
            }
        }
    }
    printf("IDLE end open=%ld closed=%ld\n", open_n, closed_later);
    fflush(stdout);
    return 0;
}
