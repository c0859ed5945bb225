/* Logging: one line per event on stderr, written with a single write() so that lines
 * from different threads never interleave. */
#include "leadloop/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int log_min_level = LOG_INFO;
static int log_format = LOG_FORMAT_JSON;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(int min_level, int format)
{
    log_min_level = min_level;
    log_format = format;
}

/* Appends s JSON-escaped; stops quietly at the end of the buffer. */
static size_t put_escaped(char *buf, size_t pos, size_t cap, const char *s)
{
    for (; *s && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c < 0x20) {
            pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x", c);
        } else {
            buf[pos++] = (char)c;
        }
    }
    return pos;
}

static size_t put_time(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

static void emit(char *line, size_t len)
{
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char msg[1024], line[2048], ts[40];
    va_list ap;
    size_t pos;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    put_time(ts, sizeof ts);
    if (log_format == LOG_FORMAT_TEXT) {
        pos = (size_t)snprintf(line, sizeof line - 1, "%s %-5s %s", ts, level_names[level], msg);
        if (pos > sizeof line - 2)
            pos = sizeof line - 2;
    } else {
        pos = (size_t)snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"",
                               ts, level_names[level]);
        pos = put_escaped(line, pos, sizeof line - 4, msg);
        line[pos++] = '"';
        line[pos++] = '}';
    }
    emit(line, pos);
}

void log_access(const char *method, const char *route, int status, double duration_ms,
                const char *request_id, const char *key_prefix)
{
    char line[1024], ts[40];
    size_t pos;
    if (LOG_INFO < log_min_level)
        return;
    put_time(ts, sizeof ts);
    if (log_format == LOG_FORMAT_TEXT) {
        pos = (size_t)snprintf(line, sizeof line - 1, "%s access %s %s %d %.3fms id=%s key=%s", ts,
                               method, route, status, duration_ms, request_id,
                               key_prefix && *key_prefix ? key_prefix : "-");
        if (pos > sizeof line - 2)
            pos = sizeof line - 2;
        emit(line, pos);
        return;
    }
    /* Only the route pattern is logged, never the path: paths carry ids and emails. */
    pos = (size_t)snprintf(line, sizeof line,
                           "{\"time\":\"%s\",\"level\":\"info\",\"msg\":\"access\",\"method\":\"",
                           ts);
    pos = put_escaped(line, pos, 200, method);
    pos += (size_t)snprintf(line + pos, sizeof line - pos, "\",\"route\":\"");
    pos = put_escaped(line, pos, 600, route);
    pos += (size_t)snprintf(line + pos, sizeof line - pos,
                            "\",\"status\":%d,\"duration_ms\":%.3f,\"request_id\":\"", status,
                            duration_ms);
    pos = put_escaped(line, pos, 900, request_id);
    line[pos++] = '"';
    if (key_prefix && *key_prefix) {
        pos += (size_t)snprintf(line + pos, sizeof line - pos, ",\"key_prefix\":\"");
        pos = put_escaped(line, pos, 1000, key_prefix);
        line[pos++] = '"';
    }
    line[pos++] = '}';
    emit(line, pos);
}
