/* Line-oriented logging to stderr; a whole line goes out in one write so threads do not interleave. */
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
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level], log_name);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(2, line, n);
}
