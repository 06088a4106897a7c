/* Logging to stderr, one line per event, with a level filter set once at start-up. */
#ifndef HUB_LOG_H
#define HUB_LOG_H

#include <stddef.h>

typedef enum { HUB_LOG_ERROR = 0, HUB_LOG_WARN, HUB_LOG_INFO, HUB_LOG_DEBUG } hub_log_level_t;

/* Sets the lowest level that is written (default info) and the name printed on every line. */
void hub_log_init(hub_log_level_t level, const char *node_name);
hub_log_level_t hub_log_level(void);
/* Writes one line "TIME LEVEL NODE: message". Never pass secrets: nothing filters them. */
void hub_log(hub_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* On an event-loop thread: lines are collected from batch_begin on and written by hub_log_flush() (called at the end
 * of every loop turn) or when the batch is full; warnings and errors are written at once. batch_end flushes and stops. */
void hub_log_batch_begin(void);
void hub_log_flush(void);
void hub_log_batch_end(void);

/* Writes in[0..len) into out (size bytes, at least 3 * len + 1) with every byte a log line must not carry raw (controls,
 * space, '"', DEL and non-ASCII) as %XX (a path's own %XX stay as they are): a value from the network (an HTTP/2 :path
 * or :method reaches the access log without the HTTP/1 parser's character checks) must not forge or split log lines. */
void hub_log_escape(char *out, size_t size, const char *in, size_t len);

#define hub_log_error(...) hub_log(HUB_LOG_ERROR, __VA_ARGS__)
#define hub_log_warn(...) hub_log(HUB_LOG_WARN, __VA_ARGS__)
#define hub_log_info(...) hub_log(HUB_LOG_INFO, __VA_ARGS__)
#define hub_log_debug(...)                                                                                                         \
    do {                                                                                                                           \
        if (hub_log_level() >= HUB_LOG_DEBUG)                                                                                      \
            hub_log(HUB_LOG_DEBUG, __VA_ARGS__);                                                                                   \
    } while (0)

#endif
