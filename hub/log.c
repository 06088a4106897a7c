/* Line-oriented logging to stderr; whole lines go out in one write so threads do not interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hub/log.h"

static hub_log_level_t log_level = HUB_LOG_INFO;
static char log_name[64] = "hub";

void hub_log_init(hub_log_level_t level, const char *node_name)
{
    log_level = level;
    if (node_name != NULL)
        snprintf(log_name, sizeof(log_name), "%s", node_name);
}

hub_log_level_t hub_log_level(void)
{
    return log_level;
}

/* A loop thread collects its lines during one turn of its loop and writes them together at the end of the turn:
 * one write per turn instead of one per request. Lines never wait beyond the turn, and a batch never exceeds PIPE_BUF,
 * so that a pipe (journald, a supervisor) receives each write whole. Warnings and errors go out at once. */
static __thread struct {
    int on;
    size_t len;
    char buf[4096];
} batch;

/* The "TIME" of a line, formatted once a second per thread. */
static __thread struct {
    time_t sec;
    char text[64];
} stamp;

void hub_log_batch_begin(void)
{
    batch.on = 1;
}

void hub_log_flush(void)
{
    if (batch.len != 0) {
        (void)!write(2, batch.buf, batch.len);
        batch.len = 0;
    }
}

void hub_log_batch_end(void)
{
    hub_log_flush();
    batch.on = 0;
}

void hub_log(hub_log_level_t level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n;

    if (level > log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != stamp.sec || stamp.text[0] == '\0') {
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(stamp.text, sizeof(stamp.text), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        stamp.sec = ts.tv_sec;
    }
    n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: ", stamp.text, ts.tv_nsec / 1000000, names[level], log_name);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (!batch.on) {
        (void)!write(2, line, n);
        return;
    }
    if (sizeof(batch.buf) - batch.len < (size_t)n)
        hub_log_flush();
    memcpy(batch.buf + batch.len, line, n);
    batch.len += n;
    if (level <= HUB_LOG_WARN)
        hub_log_flush();
}

/* The access log's escaping (hub/log.h); out always ends in NUL, a value too long for it is cut. */
void hub_log_escape(char *out, size_t size, const char *in, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (size_t i = 0; i != len && o + 4 <= size; ++i) {
        unsigned char c = (unsigned char)in[i];
        if (c <= 0x20 || c >= 0x7f || c == '"') {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}
