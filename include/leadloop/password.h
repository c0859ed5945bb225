/* Passwords: Argon2id hashes in the PHC string form ("$argon2id$v=19$m=...,t=...,p=1$..."),
 * made and checked by libsodium, with at most a few hashes computed at once so that a flood
 * of sign-ins cannot take the machine's memory (each hash uses PASSWORD_MEMORY bytes). */
#ifndef LEADLOOP_PASSWORD_H
#define LEADLOOP_PASSWORD_H
#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_HASH_MAX  128  /* the PHC string, NUL included (crypto_pwhash_STRBYTES) */
#define PASSWORD_MIN_CHARS 10   /* characters (code points), as NIST SP 800-63B allows */
#define PASSWORD_MAX_BYTES 1024 /* hashing more is work for nothing */

/* Initialises libsodium and the limit on hashes at once; false when it cannot. Once, before
 * threads start. */
bool password_init(void) __attribute__((warn_unused_result));
/* Hashes a password into out (a NUL-terminated PHC string). False when out of memory or
 * when no hashing turn came within wait_ms. */
bool password_hash(const char *password, char out[PASSWORD_HASH_MAX], long wait_ms)
    __attribute__((warn_unused_result));
/* 1 when password matches hash, 0 when not, -1 when no turn came or the hash is not one of
 * ours. With hash NULL it hashes against a fixed dummy (and answers 0), so that an unknown
 * account takes as long as a wrong password. */
int password_verify(const char *hash, const char *password, long wait_ms);
/* Why a new password is refused, or NULL when it is fine: its length in characters, and
 * that it is not the account's email. */
const char *password_weakness(const char *password, const char *email);

#endif
