/* A cache of resolved API keys, so that a request needs no round trip to authenticate.
 * It is only used while a listener connection hears PostgreSQL's notifications of
 * revoked or changed keys (schema 0004): a revocation reaches every daemon within
 * milliseconds; without the listener, every request asks the database. */
#ifndef LEADLOOP_KEYCACHE_H
#define LEADLOOP_KEYCACHE_H
#include <stdbool.h>
#include <stdint.h>

#include "leadloop/auth_ctx.h"

/* Subscribes to the listener (server/listen.c; call before listen_start); ttl_s 0 turns
 * the cache off. */
bool keycache_start(long ttl_s) __attribute__((warn_unused_result));
void keycache_stop(void);

/* True with *out filled when hash_hex is cached, fresh, and the listener is up. */
bool keycache_get(const char *hash_hex, struct auth_ctx *out);
/* The invalidation generation: read it before asking the database, pass it to put, and
 * an answer that raced a revocation is not cached. */
uint64_t keycache_generation(void);
void keycache_put(const char *hash_hex, const struct auth_ctx *ctx, uint64_t generation);
void keycache_forget(const char *hash_hex);

#endif
