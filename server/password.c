/* Passwords (include/leadloop/password.h). Argon2id with OWASP's smallest recommended
 * cost (19 MiB, 2 passes, one lane): about 30 ms of one core here, which is the point. The
 * hashes name their own parameters, so raising them later keeps old hashes verifiable. */
#include "leadloop/password.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "leadloop/fiber.h"

_Static_assert(PASSWORD_HASH_MAX == crypto_pwhash_STRBYTES, "PHC string size");

#define PASSWORD_OPS    2ULL
#define PASSWORD_MEMORY (19ULL * 1024 * 1024)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed = PTHREAD_COND_INITIALIZER;
static int turns; /* hashes that may run at once: the cores */
static char dummy[PASSWORD_HASH_MAX];

static bool turn_take(long wait_ms)
{
    struct timespec until;
    bool ok = true;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&lock);
    while (turns == 0 && ok)
        ok = pthread_cond_timedwait(&freed, &lock, &until) != ETIMEDOUT || turns > 0;
    if (ok)
        turns--;
    pthread_mutex_unlock(&lock);
    return ok;
}

static void turn_give(void)
{
    pthread_mutex_lock(&lock);
    turns++;
    pthread_cond_signal(&freed);
    pthread_mutex_unlock(&lock);
}

bool password_init(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (sodium_init() < 0)
        return false;
    turns = cores > 0 ? (int)cores : 1;
    return crypto_pwhash_str_alg(dummy, "leadloop dummy password", 23, PASSWORD_OPS,
                                 PASSWORD_MEMORY, crypto_pwhash_ALG_ARGON2ID13) == 0;
}

/* A hash takes a core for about 100 ms: on a fiber it runs on a helper thread
 * (fiber_offload), so the loop's other requests go on meanwhile. */
struct pw_call {
    const char *hash, *password;
    char *out;
    long wait_ms;
    int rc;
};

static void hash_blocking(void *arg)
{
    struct pw_call *c = arg;
    if (!turn_take(c->wait_ms)) {
        c->rc = -1;
        return;
    }
    c->rc = crypto_pwhash_str_alg(c->out, c->password, strlen(c->password), PASSWORD_OPS,
                                  PASSWORD_MEMORY, crypto_pwhash_ALG_ARGON2ID13);
    turn_give();
}

static void verify_blocking(void *arg)
{
    struct pw_call *c = arg;
    if (!turn_take(c->wait_ms)) {
        c->rc = -2;
        return;
    }
    c->rc = crypto_pwhash_str_verify(c->hash ? c->hash : dummy, c->password, strlen(c->password));
    turn_give();
}

bool password_hash(const char *password, char out[PASSWORD_HASH_MAX], long wait_ms)
{
    struct pw_call c = {.password = password, .out = out, .wait_ms = wait_ms};
    fiber_offload(hash_blocking, &c);
    return c.rc == 0;
}

int password_verify(const char *hash, const char *password, long wait_ms)
{
    struct pw_call c = {.hash = hash, .password = password, .wait_ms = wait_ms};
    if (hash && strncmp(hash, "$argon2id$", 10) != 0)
        return -1;
    fiber_offload(verify_blocking, &c);
    if (c.rc == -2)
        return -1;
    return hash && c.rc == 0 ? 1 : 0;
}

const char *password_weakness(const char *password, const char *email)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)password; *p; p++)
        chars += (*p & 0xC0) != 0x80; /* count code points, not bytes */
    if (chars < PASSWORD_MIN_CHARS)
        return "must be at least 10 characters long";
    if (strlen(password) > PASSWORD_MAX_BYTES)
        return "must be at most 1024 bytes long";
    if (email && !strcasecmp(password, email))
        return "must not be the account's email";
    return NULL;
}
