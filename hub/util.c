/* Helpers of hub/util.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <h2o/memory.h>
#include "hub/log.h"
#include "hub/util.h"

void hub_fatal(const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hub_log_flush();
    h2o__fatal(msg); /* h2o_fatal without the caller's file and line: "fatal:" and the message on stderr, then abort */
}

void hub_oom(void)
{
    hub_fatal("out of memory");
}

void *hub_xmalloc(size_t size)
{
    void *p = malloc(size != 0 ? size : 1);
    if (p == NULL)
        hub_oom();
    return p;
}

void *hub_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n != 0 ? n : 1, size != 0 ? size : 1);
    if (p == NULL)
        hub_oom();
    return p;
}

void *hub_xrealloc(void *p, size_t size)
{
    if ((p = realloc(p, size != 0 ? size : 1)) == NULL)
        hub_oom();
    return p;
}

char *hub_xstrndup(const char *s, size_t n)
{
    char *copy = strndup(s, n);
    if (copy == NULL)
        hub_oom();
    return copy;
}

char *hub_strdup(const char *s)
{
    char *copy;
    if (s == NULL)
        return NULL;
    if ((copy = strdup(s)) == NULL)
        hub_oom();
    return copy;
}

char *hub_json_strdup(const json_t *obj, const char *name)
{
    return hub_strdup(json_string_value(json_object_get(obj, name)));
}

uint64_t hub_json_uint(const json_t *obj, const char *name)
{
    json_int_t v = json_integer_value(json_object_get(obj, name));
    return v > 0 ? (uint64_t)v : 0;
}

const char *hub_safe_next(const char *next)
{
    size_t i;
    if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return "/";
    for (i = 0; next[i] != '\0'; ++i) {
        unsigned char c = (unsigned char)next[i];
        if (i >= 4096 || c <= 0x20 || c >= 0x7f || c == '\\')
            return "/";
    }
    return next;
}
