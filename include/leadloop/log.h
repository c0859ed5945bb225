/* Logging: one line per event, JSON objects by default (text when configured). The
 * macros do no work below the current level. Never log bodies, keys or personal data. */
#ifndef LEADLOOP_LOG_H
#define LEADLOOP_LOG_H

enum log_format { LOG_FORMAT_JSON, LOG_FORMAT_TEXT };
enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

extern int log_min_level;

void log_setup(int min_level, int format);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The access log line; fields are borrowed. key_prefix may be NULL. */
void log_access(const char *method, const char *route, int status, double duration_ms,
                const char *request_id, const char *key_prefix);

#define LOG(level, ...)                                                                            \
    do {                                                                                           \
        if ((level) >= log_min_level)                                                              \
            log_write((level), __VA_ARGS__);                                                       \
    } while (0)
#define log_debug(...) LOG(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  LOG(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  LOG(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG(LOG_ERROR, __VA_ARGS__)

#endif
