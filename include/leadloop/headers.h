/* The values of the request headers the daemon reads rules from: Content-Type (is it this
 * media type), Accept-Encoding (gzip or not), If-None-Match (does it name this file),
 * If-Match (which versions it names) and Accept (JSON or CSV). Pure
 * functions over the header's text, so that they are unit-tested and fuzzed without a
 * request; the req_* wrappers in http.h read the header and answer the error. */
#ifndef LEADLOOP_HEADERS_H
#define LEADLOOP_HEADERS_H
#include <stdbool.h>

/* True when the Content-Type value ct is the media type want (lower case, no
 * parameters), compared without case, blanks around it and any parameters ignored. */
bool headers_media_type_is(const char *ct, const char *want);

/* True when the Accept-Encoding value ae (NULL when absent) takes gzip: the q of gzip (or
 * x-gzip) when it is named, else the q of "*", is above 0 (RFC 9110 12.5.3). Absent: no. */
bool headers_accepts_gzip(const char *ae);

/* True when the If-None-Match value h (NULL when absent) is "*" or lists etag (quotes
 * included) among entity tags separated by commas; W/ is ignored, as If-None-Match
 * compares weakly (RFC 9110 13.1.2). */
bool headers_if_none_match_lists(const char *h, const char *etag);

/* True when the If-Match value h lists "*" or the entity tag of version ("<version>"),
 * among entity tags separated by commas and blanks. */
bool headers_if_match_lists(const char *h, long version);

/* If-Match (h, NULL when absent) as the version a conditional write asks for: 0 when
 * absent or "*", 1 with *version set for a single "<n>" (1 <= n <= 2^31 - 1, spelled as
 * the ETag header spells it: digits without a leading zero or sign), -1 for anything else
 * (a value no version can match). */
int headers_if_match_version(const char *h, long *version);

/* Which of JSON and CSV the Accept value (NULL when absent) prefers: 0 JSON (also when
 * absent or empty), 1 CSV, -1 when it accepts neither. Each type takes the q of the most
 * specific range naming it (RFC 9110 12.5.1: text/csv over text/any over any/any), so
 * "text/csv;q=0" with any/any rules CSV out; on a tie the one listed first wins, JSON
 * when only any/any names both. */
int headers_accept_csv(const char *accept);

#endif
