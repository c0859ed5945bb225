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

bool password_hash(const char *password, char out[PASSWORD_HASH_MAX], long wait_ms)
{
    int rc;
    if (!turn_take(wait_ms))
        return false;
    rc = crypto_pwhash_str_alg(out, password, strlen(password), PASSWORD_OPS, PASSWORD_MEMORY,
                               crypto_pwhash_ALG_ARGON2ID13);
    turn_give();
    return rc == 0;
}

int password_verify(const char *hash, const char *password, long wait_ms)
{
    int rc;
    if (hash && strncmp(hash, "$argon2id$", 10) != 0)
        return -1;
    if (!turn_take(wait_ms))
        return -1;
    rc = crypto_pwhash_str_verify(hash ? hash : dummy, password, strlen(password));
    turn_give();
    return hash && rc == 0 ? 1 : 0;
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
