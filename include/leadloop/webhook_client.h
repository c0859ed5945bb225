/* The sending side of webhooks (Standard Webhooks 1.0): signing secrets, signatures, the
 * check of a URL a user registers (no requests into our own networks: SSRF), and one HTTP
 * client per delivery thread that POSTs a signed message and reports what came back. */
#ifndef LEADLOOP_WEBHOOK_CLIENT_H
#define LEADLOOP_WEBHOOK_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* A secret as shown to users: "whsec_" and the standard base64 (with padding) of 32 random
 * bytes. The spec allows keys of 24 to 64 bytes; webhook_client_sign accepts all of them. */
#define WEBHOOK_SECRET_LEN 50
/* One signature: "v1," and the base64 of an HMAC-SHA256. */
#define WEBHOOK_SIGNATURE_LEN 47
/* The longest URL webhook_client_url_check accepts, in bytes. */
#define WEBHOOK_URL_MAX 2048
/* How much of an answer's body a delivery keeps. */
#define WEBHOOK_REPLY_MAX 65536
/* The whole delivery's time limit (connecting included) unless set otherwise. */
#define WEBHOOK_TIMEOUT_MS_DEFAULT 10000

/* libcurl's global set-up: call once from main before any thread uses this module, and
 * the clean-up once after they are all gone. */
bool webhook_client_global_init(void) __attribute__((warn_unused_result));
void webhook_client_global_cleanup(void);

/* A new secret into out (WEBHOOK_SECRET_LEN+1 bytes), from OpenSSL's CSPRNG. False only
 * when the CSPRNG fails. */
bool webhook_client_secret_new(char *out) __attribute__((warn_unused_result));

/* The Standard Webhooks signature of msg_id "." timestamp "." body under secret
 * ("whsec_<base64>", key of 24 to 64 bytes): "v1,<base64 of the HMAC-SHA256>" into out
 * (outlen >= WEBHOOK_SIGNATURE_LEN+1), NUL-terminated. False, out untouched, on a malformed
 * secret, an outlen too small, or a msg_id that is empty or holds a '.' (the spec's
 * delimiter), a space or a control character (it also travels in a header). */
bool webhook_client_sign(const char *secret, const char *msg_id, long long timestamp,
                         const char *body, size_t len, char *out, size_t outlen)
    __attribute__((warn_unused_result));

/* Checks a webhook URL a user registers: http or https, at most WEBHOOK_URL_MAX bytes, a
 * host (in ASCII: punycode for international names), a port other than 0, no user or
 * password, no fragment; and, unless allow_private, that the host resolves (getaddrinfo,
 * which blocks) and that every address it resolves to is public (webhook_client_addr_public).
 * NULL when acceptable, else a static English phrase naming the problem, such as "must use
 * http or https", "resolves to a private address" or "host does not resolve". */
const char *webhook_client_url_check(const char *url, bool allow_private);

/* False for any address a webhook must not reach: loopback, private (RFC 1918,
 * fc00::/7), link-local (169.254/16, fe80::/10), multicast, unspecified (0/8, ::), shared
 * (CGNAT 100.64/10), reserved or documentation ranges, broadcast; IPv4 embedded in IPv6
 * (mapped, 6to4, NAT64) is judged as that IPv4. Families other than AF_INET and AF_INET6
 * are not public. sa is borrowed. */
bool webhook_client_addr_public(const struct sockaddr *sa);

/* One per delivery thread: it keeps its connections open between deliveries (keep-alive).
 * Opaque. */
struct webhook_client;

/* A new client (free it with webhook_client_free); NULL when out of memory. With
 * allow_private false, a connection to a non-public address is refused when it is made,
 * whatever the URL's host resolves to by then. */
struct webhook_client *webhook_client_new(bool allow_private);
/* Closes its connections. Accepts NULL. */
void webhook_client_free(struct webhook_client *c);
/* The whole delivery's time limit, connecting included (WEBHOOK_TIMEOUT_MS_DEFAULT until
 * set; tests shorten it). ms > 0. */
void webhook_client_set_timeout_ms(struct webhook_client *c, long ms);

struct webhook_result {
    long status;     /* HTTP status of the answer, 0 when none */
    char error[256]; /* why there was no answer ("" when there was one) */
    char *reply;     /* new: the answer's body, its first WEBHOOK_REPLY_MAX bytes at most,
                        NUL-terminated; NULL when empty or when there was no answer */
    size_t reply_len;
    bool truncated; /* the answer's body was longer than WEBHOOK_REPLY_MAX */
    double seconds; /* total time */
};

/* Frees r->reply (and sets it to NULL). Accepts NULL. */
void webhook_result_free(struct webhook_result *r);

/* POSTs body (len bytes, Content-Type: application/json) to url, signed with each secret of
 * secrets (a NULL-terminated list, at least one; two during a rotation) in one
 * webhook-signature header, with webhook-id and webhook-timestamp, as User-Agent
 * Leadloop-Webhooks/1. Redirects are not followed (a 3xx is a status like any other); an
 * answer's body past WEBHOOK_REPLY_MAX ends the transfer but not the delivery, which keeps
 * its status. Only http and https; no proxy from the environment.
 *
 * *out is overwritten (free it with webhook_result_free). Returns false only when it could
 * not try for want of memory; a delivery that failed (refused, timed out, TLS, an address
 * not allowed, a malformed secret) returns true with status 0 and error set. All arguments
 * are borrowed. Each thread must use its own client. */
bool webhook_client_post(struct webhook_client *c, const char *url, const char *msg_id,
                         long long timestamp, const char *body, size_t len,
                         const char *const *secrets, struct webhook_result *out)
    __attribute__((warn_unused_result));

#endif
