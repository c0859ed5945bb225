/* Small helpers shared by modules: random bytes, hashing, encodings, clocks. */
#ifndef LEADLOOP_UTIL_H
#define LEADLOOP_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Fills buf with n bytes from the kernel's CSPRNG; false only if the kernel refuses. */
bool util_random(void *buf, size_t n) __attribute__((warn_unused_result));
/* A request id: 32 hex digits and a NUL, unique, not secret (a per-thread generator seeded
 * once from getrandom: no system call per request). */
void util_request_id(char out[33]);

/* SHA-256 of data. */
void util_sha256(const void *data, size_t len, unsigned char out[32]);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *in, size_t n, char *out);

/* base64url without padding; out needs 4*ceil(n/3)+1 bytes. Returns the length. */
size_t util_b64url_encode(const unsigned char *in, size_t n, char *out);
/* Decodes base64url without padding into out (cap bytes); returns length or -1. */
long util_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);

/* True when s is a canonical UUID text (8-4-4-4-12 hex, any case). */
bool util_is_uuid(const char *s);

/* Monotonic clock in nanoseconds. */
uint64_t util_now_ns(void);
/* *ts = the monotonic clock ms milliseconds from now (for pthread_cond_timedwait on a
 * condition variable set to CLOCK_MONOTONIC). */
void util_deadline(struct timespec *ts, long ms);

/* strtol for the whole string within [min, max]. */
bool util_parse_long(const char *s, long min, long max, long *out)
    __attribute__((warn_unused_result));

/* True when the bytes are valid UTF-8 without NUL. */
bool util_utf8_valid(const char *s, size_t n);

#endif
