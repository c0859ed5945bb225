/* Percent-decoding (RFC 3986 section 2.1) of the request target, which the daemon does
 * itself: libmicrohttpd is told to leave the target as it came (http.c), so that the
 * router splits the path at its own slashes and an id holding "/", sent as %2F, stays one
 * segment. Each captured segment and each query argument is then decoded exactly once. */
#ifndef LEADLOOP_URI_H
#define LEADLOOP_URI_H
#include <stdbool.h>
#include <stddef.h>

/* Decodes s in place, each %HH (hex digits of either case) into its byte, and returns the
 * length of the result: it may hold NUL bytes (from %00) before its terminator. A '%' not
 * followed by two hex digits stays as it is, and sets *malformed (when not NULL). '+' is
 * left alone: it means a space only in a query, where libmicrohttpd has already turned it
 * into one before the escapes are decoded (as an HTML form encodes). */
size_t uri_decode(char *s, bool *malformed);

/* Decodes a path segment in place. True when it was well-formed: every '%' starts an
 * escape and none of them gives a NUL byte (which would cut the segment short). */
bool uri_decode_segment(char *s) __attribute__((warn_unused_result));

#endif
