/* Fibers on event-loop threads (fiber.h). One scheduler per loop thread: an epoll set, a
 * list of fibers ready to run, a heap of deadlines, and an inbox through which other
 * threads hand parked fibers back. Their stacks are mapped lazily (a fiber touches a few
 * pages of its 512 KiB) and kept for reuse.
 *
 * Switching: ucontext once, to start a fiber's stack; from then on _setjmp/_longjmp, which
 * unlike swapcontext do not save the signal mask (a system call each way: 8 per request
 * measured, as many as the thread wake-ups they replace). A fiber never returns: it runs
 * one function after another (fiber_go reuses it), so its frames stay valid.
 *
 * AddressSanitizer is told of every switch (it would otherwise take a fiber's stack for
 * stack overflow), and valgrind of every stack. */
#include "leadloop/fiber.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "leadloop/log.h"
#include "leadloop/util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define FIBER_ASAN 1
#define STACK_SIZE ((size_t)2 * 1024 * 1024) /* redzones make frames larger */
#else
#define FIBER_ASAN 0
#define STACK_SIZE ((size_t)512 * 1024)
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FIBER_VALGRIND 1
#endif
#endif
#ifndef FIBER_VALGRIND
#define FIBER_VALGRIND 0
#endif

#define GUARD               ((size_t)4096)
#define KEEP_FREE           256 /* finished fibers a loop keeps for reuse */
#define EVENTS_MAX          256
#define OFFLOAD_THREADS_MAX 64

/* What epoll's data.ptr points at: the first member of each. */
enum src_kind { SRC_HOOK = 1, SRC_WAKE, SRC_FIBER };
struct src {
    enum src_kind kind;
};

enum fstate { F_FREE, F_RUNNING, F_READY, F_PARKED };
enum wake { W_NONE, W_READY, W_TIMEOUT, W_INTERRUPT, W_UNPARK };

struct fiber {
    struct src src;
    struct sched *s;
    jmp_buf jb; /* where it parked */
    char *map;  /* guard page, then the stack */
    char *stack;
    void (*fn)(void *arg);
    void *arg;
    void (*done)(void *arg);
    enum fstate state;
    enum wake why;
    int wait_fd; /* in an fd wait: its fd, else -1 */
    uint64_t deadline;
    long heap_i; /* in the deadline heap: its index, else -1 */
    atomic_bool signalled;
    bool in_inbox; /* under s->mu */
    bool finished;
    struct fiber *next;       /* the ready list or the free list */
    struct fiber *inbox_next; /* the inbox (under s->mu) */
    struct fiber *all_next;   /* every fiber of s */
    unsigned vg_id;
    void *fake; /* AddressSanitizer's fake stack across a switch */
};

struct sched {
    int ep, efd;
    struct src hook_src, wake_src;
    atomic_bool stop;
    atomic_bool interrupt;
    pthread_mutex_t mu;
    struct fiber *inbox;
    struct fiber *ready_head, *ready_tail;
    struct fiber **heap;
    long nheap, capheap;
    struct fiber *free_list;
    long nfree;
    struct fiber *all;
    long live;
    jmp_buf main_jb;     /* where the loop switched to a fiber */
    ucontext_t boot_ctx; /* a new fiber's first switch back */
    struct fiber *cur;
    const void *main_bottom;
    size_t main_size;
    struct sched *next;
};

static _Thread_local struct sched *tls_sched;
static atomic_bool interrupted;
static pthread_mutex_t scheds_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sched *scheds;

/* ---------------------------------------------------------------- the deadline heap */

static bool heap_less(const struct sched *s, long a, long b)
{
    return s->heap[a]->deadline < s->heap[b]->deadline;
}

static void heap_swap(struct sched *s, long a, long b)
{
    struct fiber *t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
    s->heap[a]->heap_i = a;
    s->heap[b]->heap_i = b;
}

static void heap_up(struct sched *s, long i)
{
    while (i > 0 && heap_less(s, i, (i - 1) / 2)) {
        heap_swap(s, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(struct sched *s, long i)
{
    for (;;) {
        long l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && heap_less(s, l, m))
            m = l;
        if (r < s->nheap && heap_less(s, r, m))
            m = r;
        if (m == i)
            return;
        heap_swap(s, i, m);
        i = m;
    }
}

static bool heap_add(struct sched *s, struct fiber *f, uint64_t deadline)
{
    if (s->nheap == s->capheap) {
        long cap = s->capheap ? s->capheap * 2 : 64;
        struct fiber **h = realloc(s->heap, (size_t)cap * sizeof(struct fiber *));
        if (!h)
            return false;
        s->heap = h;
        s->capheap = cap;
    }
    f->deadline = deadline;
    f->heap_i = s->nheap;
    s->heap[s->nheap++] = f;
    heap_up(s, f->heap_i);
    return true;
}

static void heap_remove(struct sched *s, struct fiber *f)
{
    long i = f->heap_i;
    if (i < 0)
        return;
    f->heap_i = -1;
    if (i == --s->nheap)
        return;
    s->heap[i] = s->heap[s->nheap];
    s->heap[i]->heap_i = i;
    heap_down(s, i);
    heap_up(s, i);
}

/* ---------------------------------------------------------------- switching */

/* The loop's stack to f's; returns when f parks or finishes (then true). */
static bool switch_to(struct sched *s, struct fiber *f)
{
#if FIBER_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, f->stack, STACK_SIZE);
#endif
    s->cur = f;
    f->state = F_RUNNING;
    if (!_setjmp(s->main_jb))
        _longjmp(f->jb, 1);
#if FIBER_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    s->cur = NULL;
    return f->finished;
}

/* f's stack to the loop's: f has set its state (parked) or finished. */
static void switch_back(struct sched *s, struct fiber *f)
{
#if FIBER_ASAN
    __sanitizer_start_switch_fiber(&f->fake, s->main_bottom, s->main_size);
#endif
    if (!_setjmp(f->jb))
        _longjmp(s->main_jb, 1);
#if FIBER_ASAN
    __sanitizer_finish_switch_fiber(f->fake, &s->main_bottom, &s->main_size);
#endif
}

/* A fiber's life: back to its maker at once (boot_ctx), then one function per fiber_go. */
static void trampoline(void)
{
    struct sched *s = tls_sched;
    struct fiber *f = s->cur;
#if FIBER_ASAN
    __sanitizer_finish_switch_fiber(NULL, &s->main_bottom, &s->main_size);
#endif
    if (!_setjmp(f->jb)) {
#if FIBER_ASAN
        __sanitizer_start_switch_fiber(&f->fake, s->main_bottom, s->main_size);
#endif
        setcontext(&s->boot_ctx);
    }
#if FIBER_ASAN
    /* the first switch to it lands here; later ones in switch_back, which finish there */
    __sanitizer_finish_switch_fiber(f->fake, &s->main_bottom, &s->main_size);
#endif
    for (;;) {
        f->fn(f->arg);
        f->finished = true;
        switch_back(s, f); /* reused: the next function comes back here */
    }
}

/* getcontext returns twice; kept out of its callers, whose locals would be at risk */
__attribute__((noinline)) static int ctx_get(ucontext_t *u)
{
    return getcontext(u);
}

static void fiber_unmap(struct fiber *f)
{
#if FIBER_VALGRIND
    VALGRIND_STACK_DEREGISTER(f->vg_id);
#endif
    munmap(f->map, GUARD + STACK_SIZE);
}

/* Starts f's stack: the trampoline saves where it stands (f->jb) and comes back. */
static bool fiber_boot(struct sched *s, struct fiber *f)
{
    ucontext_t ctx;
    if (ctx_get(&ctx) != 0)
        return false;
    ctx.uc_stack.ss_sp = f->stack;
    ctx.uc_stack.ss_size = STACK_SIZE;
    ctx.uc_link = NULL;
    makecontext(&ctx, trampoline, 0);
    s->cur = f;
#if FIBER_ASAN
    {
        void *fake = NULL;
        __sanitizer_start_switch_fiber(&fake, f->stack, STACK_SIZE);
        swapcontext(&s->boot_ctx, &ctx);
        __sanitizer_finish_switch_fiber(fake, NULL, NULL);
    }
#else
    swapcontext(&s->boot_ctx, &ctx);
#endif
    s->cur = NULL;
    return true;
}

static struct fiber *fiber_take(struct sched *s)
{
    struct fiber *f = s->free_list;
    if (f) {
        s->free_list = f->next;
        s->nfree--;
    } else {
        f = calloc(1, sizeof *f);
        if (!f)
            return NULL;
        f->map = mmap(NULL, GUARD + STACK_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (f->map == MAP_FAILED) {
            free(f);
            return NULL;
        }
        if (mprotect(f->map, GUARD, PROT_NONE) != 0)
            log_warn("fiber: cannot protect a stack's guard page: %s", strerror(errno));
        f->stack = f->map + GUARD;
        f->src.kind = SRC_FIBER;
        f->s = s;
        f->heap_i = -1;
        f->wait_fd = -1;
#if FIBER_VALGRIND
        f->vg_id = VALGRIND_STACK_REGISTER(f->stack, f->stack + STACK_SIZE);
#endif
        if (!fiber_boot(s, f)) {
            fiber_unmap(f);
            free(f);
            return NULL;
        }
        f->all_next = s->all;
        s->all = f;
    }
    f->next = NULL;
    f->finished = false;
    f->why = W_NONE;
    atomic_store(&f->signalled, false);
    s->live++;
    return f;
}

static void fiber_release(struct sched *s, struct fiber *f)
{
    f->state = F_FREE;
    f->fn = NULL;
    f->arg = NULL;
    f->done = NULL;
    s->live--;
    /* kept (a late fiber_unpark may still name it); past KEEP_FREE its stack goes */
    if (s->nfree >= KEEP_FREE && f->map) {
        fiber_unmap(f);
        f->map = f->stack = NULL;
        return;
    }
    f->next = s->free_list;
    s->free_list = f;
    s->nfree++;
}

/* ---------------------------------------------------------------- ready and parked */

static void make_ready(struct sched *s, struct fiber *f, enum wake why)
{
    if (f->state != F_PARKED)
        return;
    f->state = F_READY;
    f->why = why;
    heap_remove(s, f);
    f->next = NULL;
    if (s->ready_tail)
        s->ready_tail->next = f;
    else
        s->ready_head = f;
    s->ready_tail = f;
}

static enum wake park_self(struct sched *s, struct fiber *f)
{
    f->state = F_PARKED;
    f->why = W_NONE;
    switch_back(s, f);
    return f->why;
}

static void run_ready(struct sched *s, bool *completed)
{
    struct fiber *f;
    while ((f = s->ready_head)) {
        s->ready_head = f->next;
        if (!s->ready_head)
            s->ready_tail = NULL;
        if (switch_to(s, f)) {
            void (*done)(void *) = f->done;
            void *arg = f->arg;
            fiber_release(s, f);
            if (done)
                done(arg);
            *completed = true;
        }
    }
}

bool fiber_go(void (*fn)(void *arg), void *arg, void (*done)(void *arg), bool *failed)
{
    struct sched *s = tls_sched;
    struct fiber *f;
    *failed = false;
    if (!s || s->cur || !(f = fiber_take(s))) {
        *failed = true;
        return false;
    }
    f->fn = fn;
    f->arg = arg;
    f->done = done;
    if (switch_to(s, f)) {
        fiber_release(s, f);
        return true;
    }
    return false;
}

bool fiber_in(void)
{
    return tls_sched && tls_sched->cur;
}

struct fiber *fiber_self(void)
{
    return tls_sched ? tls_sched->cur : NULL;
}

int fiber_wait_fd(int fd, short events, uint64_t deadline_ns)
{
    struct sched *s = tls_sched;
    struct fiber *f = s->cur;
    struct epoll_event ev = {.events = EPOLLONESHOT, .data.ptr = f};
    enum wake why;
    if (atomic_load(&interrupted))
        return -1;
    if (events & POLLIN)
        ev.events |= EPOLLIN | EPOLLRDHUP;
    if (events & POLLOUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(s->ep, EPOLL_CTL_MOD, fd, &ev) != 0 &&
        (errno != ENOENT || epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0)) {
        /* cannot watch it: wait in place (the thread's other fibers wait too) */
        struct pollfd p = {.fd = fd, .events = events};
        uint64_t now = util_now_ns();
        int ms = deadline_ns ? (deadline_ns > now ? (int)((deadline_ns - now) / 1000000u) : 0) : -1;
        int n = poll(&p, 1, ms);
        return n > 0 ? 1 : n == 0 ? 0 : 2;
    }
    f->wait_fd = fd;
    if (deadline_ns)
        (void)heap_add(s, f, deadline_ns); /* out of memory: no deadline; the caller's stays */
    why = park_self(s, f);
    f->wait_fd = -1;
    if (why != W_READY)
        epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
    switch (why) {
    case W_READY:
        return 1;
    case W_TIMEOUT:
        return 0;
    case W_INTERRUPT:
        return -1;
    default:
        return 2;
    }
}

void fiber_sleep_until(uint64_t deadline_ns)
{
    struct sched *s = tls_sched;
    struct fiber *f = s->cur;
    while (util_now_ns() < deadline_ns && !atomic_load(&interrupted)) {
        if (!heap_add(s, f, deadline_ns))
            return;
        if (park_self(s, f) == W_INTERRUPT)
            return;
        heap_remove(s, f);
    }
}

bool fiber_park(uint64_t deadline_ns)
{
    struct sched *s = tls_sched;
    struct fiber *f = s->cur;
    enum wake why;
    if (atomic_exchange(&f->signalled, false))
        return true;
    if (deadline_ns && util_now_ns() >= deadline_ns)
        return false;
    if (deadline_ns && !heap_add(s, f, deadline_ns))
        return true; /* out of memory: a spurious return, the caller looks again */
    why = park_self(s, f);
    heap_remove(s, f);
    return why != W_TIMEOUT;
}

void fiber_unpark(struct fiber *f)
{
    struct sched *s = f->s;
    uint64_t one = 1;
    bool post;
    if (atomic_exchange(&f->signalled, true))
        return;           /* already signalled: its next park returns at once */
    if (tls_sched == s) { /* its own loop (or a fiber of it): straight to the ready list */
        if (f->state == F_PARKED && f->wait_fd < 0)
            make_ready(s, f, W_UNPARK);
        return;
    }
    pthread_mutex_lock(&s->mu);
    post = !f->in_inbox;
    if (post) {
        f->in_inbox = true;
        f->inbox_next = s->inbox;
        s->inbox = f;
    }
    pthread_mutex_unlock(&s->mu);
    if (post && write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("fiber: cannot wake a loop: %s", strerror(errno));
}

/* ---------------------------------------------------------------- offloading */

struct job {
    void (*fn)(void *arg);
    void *arg;
    struct fiber *f;
    atomic_bool done;
    struct job *next;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv, gone;
    struct job *head, *tail;
    int idle, total;
    bool stop;
} off = {.mu = PTHREAD_MUTEX_INITIALIZER,
         .cv = PTHREAD_COND_INITIALIZER,
         .gone = PTHREAD_COND_INITIALIZER};

static void *offload_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&off.mu);
    for (;;) {
        struct job *j;
        struct fiber *f;
        while (!off.head && !off.stop) {
            off.idle++;
            pthread_cond_wait(&off.cv, &off.mu);
            off.idle--;
        }
        if (!off.head)
            break;
        j = off.head;
        off.head = j->next;
        if (!off.head)
            off.tail = NULL;
        pthread_mutex_unlock(&off.mu);
        j->fn(j->arg);
        f = j->f; /* j lives on f's stack: read before done */
        atomic_store(&j->done, true);
        fiber_unpark(f);
        pthread_mutex_lock(&off.mu);
    }
    off.total--;
    pthread_cond_broadcast(&off.gone);
    pthread_mutex_unlock(&off.mu);
    return NULL;
}

void fiber_offload(void (*fn)(void *arg), void *arg)
{
    struct job j = {.fn = fn, .arg = arg, .f = fiber_self(), .next = NULL};
    bool inline_run = false;
    if (!j.f) {
        fn(arg);
        return;
    }
    atomic_store(&j.done, false);
    pthread_mutex_lock(&off.mu);
    if (off.idle == 0 && off.total < OFFLOAD_THREADS_MAX && !off.stop) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, (size_t)1024 * 1024);
        if (pthread_create(&t, &attr, offload_main, NULL) == 0)
            off.total++;
        pthread_attr_destroy(&attr);
    }
    if (off.total == 0 || off.stop) {
        inline_run = true; /* no helper thread: block this loop rather than fail */
    } else {
        if (off.tail)
            off.tail->next = &j;
        else
            off.head = &j;
        off.tail = &j;
        pthread_cond_signal(&off.cv);
    }
    pthread_mutex_unlock(&off.mu);
    if (inline_run) {
        fn(arg);
        return;
    }
    while (!atomic_load(&j.done))
        fiber_park(0);
}

void fiber_offload_stop(void)
{
    pthread_mutex_lock(&off.mu);
    off.stop = true;
    pthread_cond_broadcast(&off.cv);
    while (off.total > 0)
        pthread_cond_wait(&off.gone, &off.mu);
    off.stop = false;
    pthread_mutex_unlock(&off.mu);
}

/* ---------------------------------------------------------------- the loop */

struct sched *sched_new(void)
{
    struct sched *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->ep < 0 || s->efd < 0) {
        if (s->ep >= 0)
            close(s->ep);
        if (s->efd >= 0)
            close(s->efd);
        free(s);
        return NULL;
    }
    s->hook_src.kind = SRC_HOOK;
    s->wake_src.kind = SRC_WAKE;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_lock(&scheds_mu);
    s->next = scheds;
    scheds = s;
    pthread_mutex_unlock(&scheds_mu);
    return s;
}

void sched_wake(struct sched *s)
{
    uint64_t one = 1;
    if (write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("fiber: cannot wake a loop: %s", strerror(errno));
}

void sched_stop(struct sched *s)
{
    atomic_store(&s->stop, true);
    sched_wake(s);
}

long sched_fibers(const struct sched *s)
{
    return s->live;
}

void fiber_interrupt_all(void)
{
    atomic_store(&interrupted, true);
    pthread_mutex_lock(&scheds_mu);
    for (struct sched *s = scheds; s; s = s->next) {
        atomic_store(&s->interrupt, true);
        sched_wake(s);
    }
    pthread_mutex_unlock(&scheds_mu);
}

/* The loop's inbox: fibers unparked by other threads, and the interrupt. */
static void drain_inbox(struct sched *s)
{
    struct fiber *list;
    uint64_t n;
    if (read(s->efd, &n, sizeof n) < 0 && errno != EAGAIN)
        log_warn("fiber: cannot read a loop's wake-ups: %s", strerror(errno));
    pthread_mutex_lock(&s->mu);
    list = s->inbox;
    s->inbox = NULL;
    for (struct fiber *f = list; f; f = f->inbox_next)
        f->in_inbox = false;
    pthread_mutex_unlock(&s->mu);
    for (struct fiber *f = list; f; f = f->inbox_next)
        if (f->state == F_PARKED && f->wait_fd < 0)
            make_ready(s, f, W_UNPARK);
    if (atomic_exchange(&s->interrupt, false))
        for (struct fiber *f = s->all; f; f = f->all_next)
            if (f->state == F_PARKED && (f->wait_fd >= 0 || f->heap_i >= 0))
                make_ready(s, f, W_INTERRUPT);
}

static int loop_timeout(struct sched *s, const struct sched_hooks *h)
{
    long ms = h->timeout_ms ? h->timeout_ms(h->arg) : -1;
    if (s->nheap > 0) {
        uint64_t now = util_now_ns(), d = s->heap[0]->deadline;
        long fm = d > now ? (long)((d - now + 999999u) / 1000000u) : 0;
        if (ms < 0 || fm < ms)
            ms = fm;
    }
    return ms > 1000 || ms < 0 ? 1000 : (int)ms;
}

void sched_loop(struct sched *s, const struct sched_hooks *h)
{
    struct epoll_event evs[EVENTS_MAX];
    struct epoll_event hev = {.events = EPOLLIN, .data.ptr = &s->hook_src};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &s->wake_src};
    tls_sched = s;
    if ((h->fd >= 0 && epoll_ctl(s->ep, EPOLL_CTL_ADD, h->fd, &hev) != 0) ||
        epoll_ctl(s->ep, EPOLL_CTL_ADD, s->efd, &wev) != 0) {
        log_error("fiber: cannot set up a loop: %s", strerror(errno));
        return;
    }
    while (!atomic_load(&s->stop)) {
        bool hook = false, completed = false;
        int n = epoll_wait(s->ep, evs, EVENTS_MAX, loop_timeout(s, h));
        if (n < 0 && errno != EINTR) {
            log_error("fiber: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            struct src *src = evs[i].data.ptr;
            if (src->kind == SRC_HOOK) {
                hook = true;
            } else if (src->kind == SRC_WAKE) {
                drain_inbox(s);
                if (h->inbox)
                    h->inbox(h->arg);
                hook = true;
            } else {
                struct fiber *f = (struct fiber *)(void *)src;
                if (f->state == F_PARKED && f->wait_fd >= 0)
                    make_ready(s, f, W_READY);
            }
        }
        if (s->nheap > 0) {
            uint64_t now = util_now_ns();
            while (s->nheap > 0 && s->heap[0]->deadline <= now)
                make_ready(s, s->heap[0], W_TIMEOUT);
        }
        run_ready(s, &completed);
        if (hook || completed || n == 0)
            h->run(h->arg);
    }
    tls_sched = NULL;
}

void sched_free(struct sched *s)
{
    struct sched **p;
    if (!s)
        return;
    pthread_mutex_lock(&scheds_mu);
    for (p = &scheds; *p && *p != s; p = &(*p)->next)
        ;
    if (*p)
        *p = s->next;
    pthread_mutex_unlock(&scheds_mu);
    for (struct fiber *f = s->all, *next; f; f = next) {
        next = f->all_next;
        if (f->map)
            fiber_unmap(f);
        free(f);
    }
    free(s->heap);
    close(s->ep);
    close(s->efd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
